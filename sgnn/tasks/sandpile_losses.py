r"""The losses and metrics of the sandpile targets, footprint and hazard.

:func:`sandpile_loss` and :func:`sandpile_metrics` serve every sandpile model,
feed-forward or recurrent (:func:`node_outputs` reads any model's result);
:func:`footprint_criterion` is the footprint loss of one output, the one the recurrent
models' progressive loss reads. The per-graph metrics of avalanche predictions
(:func:`footprint_iou`, :func:`footprint_f1`, :func:`footprint_exact`,
:func:`log_count_mae`, :func:`relative_size_error`) each return one value per graph.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import Module
from torch.nn.functional import binary_cross_entropy_with_logits, mse_loss
from torch_geometric.utils import scatter

from .._names import SAMPLE_TARGETS
from ..nn import RecurrentOutput, RGNetOutput
from ..train.distributed import unwrap_model
from ..train.loop import num_graphs
from ..train.metrics import (
    alarm_precision_recall,
    batch_vector,
    captured_fraction,
    spearman_per_graph,
    top_fraction_recall,
)

__all__ = [
    "footprint_criterion",
    "footprint_exact",
    "footprint_f1",
    "footprint_iou",
    "hazard_criterion",
    "log_count_mae",
    "node_outputs",
    "predicted_avalanche_size",
    "relative_size_error",
    "sandpile_loss",
    "sandpile_metrics",
]

#: A metric of :func:`~sgnn.train.evaluate`: ``fn(output, batch)``, one value per graph.
Metric = Callable[[Any, Any], Tensor]


def check_target(target: str) -> str:
    """``target`` if it is one of the sample targets, else a ``ValueError`` naming it."""
    if target not in SAMPLE_TARGETS:
        raise ValueError(f"target must be one of {SAMPLE_TARGETS}, got {target!r}")
    return target


def _soft_iou(logit: Tensor, toppled: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    # The per-avalanche IoU with probabilities for masks: every avalanche counts
    # equally, as in the metric, however few sites it covers.
    p = torch.sigmoid(logit)
    inter = scatter(p * toppled, batch, 0, dim_size=num_graphs, reduce="sum")
    union = scatter(p + toppled - p * toppled, batch, 0, dim_size=num_graphs, reduce="sum")
    return inter / union.clamp(min=1e-6)


def footprint_criterion(out: Tensor, batch: Any) -> Tensor:
    r"""The footprint loss of outputs ``out`` (toppled logit, :math:`\log(1 +
    \text{topplings})`): binary cross-entropy of the toppled mask, plus :math:`1 -`
    the mean per-avalanche soft IoU, plus the squared error of the log counts."""
    if out.dim() != 2 or out.size(1) != 2:
        raise ValueError(f"out must have shape (N, 2), got {tuple(out.shape)}")
    toppled = batch.toppled.to(out.dtype)
    index = _node_batch(batch, toppled)
    bce = binary_cross_entropy_with_logits(out[:, 0], toppled)
    iou = _soft_iou(out[:, 0], toppled, index, num_graphs(batch)).mean()
    return bce + (1 - iou) + mse_loss(out[:, 1], torch.log1p(batch.topplings.to(out.dtype)))


def hazard_criterion(out: Tensor, batch: Any) -> Tensor:
    r"""The hazard loss of outputs ``out`` (predicted :math:`\log(1 + s)`, shape
    :math:`(N, 1)`): a listwise cross-entropy that weighs every site by its share of the
    avalanche mass, plus the squared error of the hazard.

    Per configuration, with true sizes :math:`s_i` and predictions :math:`\hat h_i`,

    .. math::
        \mathcal{L} = -\sum_i \frac{s_i}{\sum_j s_j}
            \log \frac{e^{\hat h_i}}{\sum_j e^{\hat h_j}}
        + \frac{1}{N} \sum_i \big(\hat h_i - \log(1 + s_i)\big)^2,

    averaged over configurations. The sizes are heavy-tailed: nearly every site
    triggers a small avalanche or none, and a handful a system-spanning one, so the
    squared error alone spends its effort on the many small sites. The first term
    weighs each site by its share of the total size, as the captured hazard of the
    forecaster does (:func:`~sgnn.train.captured_fraction`); it is minimal when
    :math:`e^{\hat h}` is proportional to :math:`s` within each configuration, which
    only ranks, so the squared error fixes the overall level (for the alarms).
    Configurations without any avalanche add the squared error only.
    """
    if out.dim() != 2 or out.size(1) != 1:
        raise ValueError(f"out must have shape (N, 1), got {tuple(out.shape)}")
    pred = out[:, 0]
    index = _node_batch(batch, pred)
    size = num_graphs(batch)
    sizes = _true_sizes(batch).to(pred.dtype)
    total = scatter(sizes, index, 0, dim_size=size, reduce="sum")
    top = scatter(pred.detach(), index, 0, dim_size=size, reduce="max")
    log_norm = top + torch.log(scatter(torch.exp(pred - top[index]), index, 0, dim_size=size,
                                       reduce="sum"))  # fmt: skip
    share = sizes / total.clamp(min=1)[index]
    listwise = scatter(-share * (pred - log_norm[index]), index, 0, dim_size=size, reduce="sum")
    has_mass = total > 0
    listwise = listwise[has_mass].sum() / has_mass.sum().clamp(min=1)
    return listwise + mse_loss(pred, batch.hazard.to(pred.dtype))


def sandpile_loss(target: str, seed: int = 0) -> Callable[[Module, Any], Tensor]:
    r"""The training loss ``loss(model, batch)`` of a target.

    ``"footprint"``: binary cross-entropy of the toppled mask, plus
    :math:`1 - ` the mean per-avalanche soft IoU, plus the squared error of
    :math:`\log(1 + \text{topplings})`; ``"hazard"``: :func:`hazard_criterion`, a
    listwise cross-entropy for the rare large avalanches plus the squared error of the
    hazard. A model with a ``training_loss(batch, generator)`` method (the
    recurrent models) is trained and validated by that instead: one-step
    transitions for :class:`~sgnn.tasks.ToppleAutomaton`, the progressive loss
    for the others (in eval mode with the same random draws at every call).

    Args:
        target (str): ``"footprint"`` or ``"hazard"``.
        seed (int, optional): Seed of the random choices of ``training_loss``
            (steps, iteration counts). (default: ``0``)
    """
    generator = torch.Generator().manual_seed(seed)

    def own_loss(model: Module, batch: Any) -> Tensor | None:
        inner = unwrap_model(model)
        if not hasattr(inner, "training_loss"):
            return None
        # Validation (eval mode) draws the same steps and iteration counts every time, so
        # that epochs compare on equal terms; running a half-trained recurrent model to
        # convergence instead could cost its whole iteration budget.
        draws = generator if model.training else torch.Generator().manual_seed(seed)
        return inner.training_loss(batch, generator=draws)

    if check_target(target) == "hazard":
        return lambda model, batch: hazard_criterion(node_outputs(model(batch)), batch)

    def footprint_loss(model: Module, batch: Any) -> Tensor:
        loss = own_loss(model, batch)
        if loss is not None:
            return loss
        return footprint_criterion(node_outputs(model(batch)), batch)

    return footprint_loss


def node_outputs(result: Any) -> Tensor:
    """The node outputs of any sandpile model's result: a tensor, or the ``node`` field
    of a :class:`~sgnn.nn.RecurrentOutput` or an :class:`~sgnn.nn.RGNetOutput`."""
    if isinstance(result, (RecurrentOutput, RGNetOutput)):
        return result.node
    return result


def predicted_avalanche_size(out: Tensor, batch: Any) -> Tensor:
    r"""Avalanche size from footprint outputs: :math:`\sum_i [\ell_i > 0]\,(e^{c_i} - 1)`
    per graph, for logits :math:`\ell` and log counts :math:`c` (clamped at 0)."""
    counts = torch.expm1(out[:, 1].clamp(min=0)) * (out[:, 0] > 0)
    return scatter(counts, _node_batch(batch, counts), 0, dim_size=num_graphs(batch),
                   reduce="sum")  # fmt: skip


def _counts(pred: Tensor, true: Tensor, batch: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    if pred.shape != true.shape or pred.dim() != 1:
        raise ValueError(f"pred and true must be 1-D of equal shape, got {tuple(pred.shape)} "
                         f"and {tuple(true.shape)}")  # fmt: skip
    b = batch_vector(batch, pred.numel(), pred.device)
    p, t = pred.bool(), true.bool()
    size = int(b.max()) + 1 if b.numel() else 0
    tp = scatter((p & t).double(), b, 0, dim_size=size)
    fp = scatter((p & ~t).double(), b, 0, dim_size=size)
    fn = scatter((~p & t).double(), b, 0, dim_size=size)
    return tp, fp, fn


def footprint_iou(pred: Tensor, true: Tensor, batch: Tensor | None = None) -> Tensor:
    r"""Intersection over union of predicted and true toppled sets, per graph.

    :math:`|P \cap T| / |P \cup T|`, and 1 when both sets are empty.

    Args:
        pred (torch.Tensor): Predicted mask (bool or 0/1), shape :math:`(N,)`.
        true (torch.Tensor): True mask, shape :math:`(N,)`.
        batch (torch.Tensor, optional): Graph of every node. (default: one graph)

    Returns:
        torch.Tensor: float64, shape :math:`(B,)`.
    """
    tp, fp, fn = _counts(pred, true, batch)
    union = tp + fp + fn
    return torch.where(union > 0, tp / union.clamp(min=1), torch.ones_like(union))


def footprint_f1(pred: Tensor, true: Tensor, batch: Tensor | None = None) -> Tensor:
    r"""F1 score of the predicted toppled set, per graph: :math:`2|P\cap T| / (|P| + |T|)`
    (1 when both are empty). Arguments as in :func:`footprint_iou`."""
    tp, fp, fn = _counts(pred, true, batch)
    total = 2 * tp + fp + fn
    return torch.where(total > 0, 2 * tp / total.clamp(min=1), torch.ones_like(total))


def footprint_exact(pred: Tensor, true: Tensor, batch: Tensor | None = None) -> Tensor:
    """1.0 for every graph whose predicted toppled set equals the true one, else 0.0
    (float64, :math:`(B,)`). Arguments as in :func:`footprint_iou`."""
    iou = footprint_iou(pred, true, batch)
    return (iou == 1).to(torch.float64)


def log_count_mae(pred_log: Tensor, true_counts: Tensor, batch: Tensor | None = None) -> Tensor:
    r"""Mean absolute error of :math:`\log(1 + \text{count})` per graph.

    Args:
        pred_log (torch.Tensor): Predicted :math:`\log(1 + c)`, shape :math:`(N,)`.
        true_counts (torch.Tensor): True counts :math:`c \ge 0`, shape :math:`(N,)`.
        batch (torch.Tensor, optional): Graph of every node.
    """
    if pred_log.shape != true_counts.shape:
        raise ValueError("pred_log and true_counts must have the same shape")
    b = batch_vector(batch, pred_log.numel(), pred_log.device)
    err = (pred_log.double() - torch.log1p(true_counts.double())).abs()
    return scatter(err, b, 0, reduce="mean")


def relative_size_error(pred_size: Tensor, true_size: Tensor) -> Tensor:
    r"""Relative error of avalanche sizes, :math:`|\hat s - s| / \max(s, 1)`, per graph."""
    if pred_size.shape != true_size.shape:
        raise ValueError("pred_size and true_size must have the same shape")
    true = true_size.double()
    return (pred_size.double() - true).abs() / true.clamp(min=1)


def sandpile_metrics(target: str, predict: Callable[[Any], Any] | None = None
                     ) -> dict[str, Metric]:  # fmt: skip
    r"""Per-graph metrics for :func:`~sgnn.train.evaluate`, each ``fn(output, batch)``.

    ``output`` is any sandpile model's result (read by :func:`node_outputs`).
    ``"footprint"``: ``IoU`` (:func:`footprint_iou` of the sites with a
    positive logit), ``|dlog(1+s)|`` (absolute error of :math:`\log(1 + s)`
    of the avalanche size, see :func:`predicted_avalanche_size`), ``exact``
    (the fraction of avalanches whose footprint is predicted exactly, see
    :func:`footprint_exact`), ``iterations`` (what a recurrent model ran
    per avalanche) and ``settled`` (1 where a recurrent model's state settled
    within its iteration budget, 0 where the budget ran out); the last two are
    NaN, hence left out, for feed-forward models.
    ``"hazard"``: ``Spearman`` (:func:`~sgnn.train.spearman_per_graph`), ``top-1%
    recall`` (:func:`~sgnn.train.top_fraction_recall`), the captured hazard ``captured
    1%`` and ``captured 0.1%`` (:func:`~sgnn.train.captured_fraction` of the true sizes,
    :math:`s = e^{\text{hazard}} - 1`, over the top 1 % and 0.1 % of sites), and
    ``alarm precision`` and ``alarm recall`` of the system-spanning sites,
    :math:`s \ge HW/8` (:func:`~sgnn.train.alarm_precision_recall` at
    :math:`\log(1 + HW/8)`; NaN, hence left out, for a lattice without alarms or
    without such sites).

    :func:`~sgnn.train.evaluate` runs the model once per batch, whatever the number of
    metrics; a predictor that is not a module (a heuristic) is passed to it as the model,
    ``evaluate(predict, loader, sandpile_metrics(target))``.

    Args:
        target (str): ``"footprint"`` or ``"hazard"``.
        predict (Callable, optional): Deprecated since 0.4 (pass the predictor to
            :func:`~sgnn.train.evaluate` instead): ``predict(batch)``, computed by each
            metric in place of ``output``. (default: :obj:`None`)
    """
    check_target(target)
    if target == "hazard":
        metrics: dict[str, Metric] = {
            "Spearman": lambda output, batch: spearman_per_graph(
                node_outputs(output)[:, 0], batch.hazard, _node_batch(batch, batch.hazard)),
            "top-1% recall": lambda output, batch: top_fraction_recall(
                node_outputs(output)[:, 0], batch.hazard, _node_batch(batch, batch.hazard), 0.01),
            "captured 1%": _captured(0.01),
            "captured 0.1%": _captured(0.001),
            "alarm precision": _alarms(0),
            "alarm recall": _alarms(1),
        }  # fmt: skip
    else:
        metrics = {"IoU": _iou, "|dlog(1+s)|": _size_error, "exact": _exact,
                   "iterations": _recurrent_field("iterations"),
                   "settled": _recurrent_field("converged")}  # fmt: skip
    if predict is None:
        return metrics
    warnings.warn("sandpile_metrics(target, predict) is deprecated and goes in 0.5: pass the "
                  "predictor to evaluate as the model, evaluate(predict, loader, "
                  "sandpile_metrics(target))", DeprecationWarning, stacklevel=2)  # fmt: skip
    return {name: _predicted(fn, predict) for name, fn in metrics.items()}


def _predicted(metric: Metric, predict: Callable[[Any], Any]) -> Metric:
    return lambda output, batch: metric(predict(batch), batch)


def _iou(output: Any, batch: Any) -> Tensor:
    out = node_outputs(output)
    return footprint_iou(out[:, 0] > 0, batch.toppled > 0, _node_batch(batch, out))


def _exact(output: Any, batch: Any) -> Tensor:
    out = node_outputs(output)
    return footprint_exact(out[:, 0] > 0, batch.toppled > 0, _node_batch(batch, out))


def _size_error(output: Any, batch: Any) -> Tensor:
    est = predicted_avalanche_size(node_outputs(output), batch)
    return (torch.log1p(est) - torch.log1p(batch.avalanche_size.view(-1).to(est))).abs()


def _recurrent_field(name: str) -> Metric:
    def metric(output: Any, batch: Any) -> Tensor:
        if isinstance(output, RecurrentOutput):
            return getattr(output, name).to(torch.float64)
        return torch.full((num_graphs(batch),), float("nan"), dtype=torch.float64)

    return metric


def _node_batch(batch: Any, like: Tensor) -> Tensor:
    return batch_vector(batch.get("batch"), like.size(0), like.device)


def _true_sizes(batch: Any) -> Tensor:
    """The avalanche size of every site: stored by the hazard datasets, else from the
    hazard :math:`\\log(1 + s)`."""
    sizes = batch.get("avalanche_sizes")
    return torch.expm1(batch.hazard.double()) if sizes is None else sizes.double()


def _captured(fraction: float) -> Metric:
    def captured(output: Any, batch: Any) -> Tensor:
        pred = node_outputs(output)[:, 0]
        return captured_fraction(pred, _true_sizes(batch), _node_batch(batch, pred), fraction)

    return captured


def _alarms(which: int) -> Metric:
    """Precision (0) or recall (1) of the alarms at :math:`\\log(1 + HW/8)`."""

    def alarms(output: Any, batch: Any) -> Tensor:
        pred = node_outputs(output)[:, 0]
        shapes = torch.as_tensor(batch.lattice_shape, device=pred.device).view(-1, 2)
        threshold = torch.log1p(shapes.prod(1).double() / 8)
        return alarm_precision_recall(pred, batch.hazard, threshold,
                                      _node_batch(batch, pred))[which]  # fmt: skip

    return alarms
