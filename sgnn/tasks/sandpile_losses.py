r"""The losses and metrics of the sandpile targets, footprint and hazard.

:func:`sandpile_loss` and :func:`sandpile_metrics` serve every sandpile model,
feed-forward or recurrent (:func:`node_outputs` reads any model's result);
:func:`footprint_criterion` is the footprint loss of one output, the one the recurrent
models' progressive loss reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import Module
from torch.nn.functional import binary_cross_entropy_with_logits, mse_loss
from torch_geometric.utils import scatter

from .._names import SAMPLE_TARGETS
from ..nn import RecurrentOutput, RGNetOutput
from ..train.loop import num_graphs
from ..train.metrics import batch_vector, footprint_iou, spearman_per_graph, top_fraction_recall

__all__ = [
    "footprint_criterion",
    "footprint_exact",
    "node_outputs",
    "predicted_avalanche_size",
    "sandpile_loss",
    "sandpile_metrics",
]


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


def sandpile_loss(target: str, seed: int = 0) -> Callable[[Module, Any], Tensor]:
    r"""The training loss ``loss(model, batch)`` of a target.

    ``"footprint"``: binary cross-entropy of the toppled mask, plus
    :math:`1 - ` the mean per-avalanche soft IoU, plus the squared error of
    :math:`\log(1 + \text{topplings})`; ``"hazard"``: the squared error of the
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
        inner = getattr(model, "module", model)  # unwrap DistributedDataParallel
        if not hasattr(inner, "training_loss"):
            return None
        # Validation (eval mode) draws the same steps and iteration counts every time, so
        # that epochs compare on equal terms; running a half-trained recurrent model to
        # convergence instead could cost its whole iteration budget.
        draws = generator if model.training else torch.Generator().manual_seed(seed)
        return inner.training_loss(batch, generator=draws)

    if check_target(target) == "hazard":
        return lambda model, batch: mse_loss(node_outputs(model(batch))[:, 0], batch.hazard)

    def footprint_loss(model: Module, batch: Any) -> Tensor:
        loss = own_loss(model, batch)
        if loss is not None:
            return loss
        return footprint_criterion(node_outputs(model(batch)), batch)

    return footprint_loss


def node_outputs(result: Any) -> Tensor:
    """The node outputs of any sandpile model's result: a tensor, the ``output`` of a
    :class:`~sgnn.nn.RecurrentOutput` or the ``node`` field of an
    :class:`~sgnn.nn.RGNetOutput`."""
    if isinstance(result, RecurrentOutput):
        return result.output
    if isinstance(result, RGNetOutput):
        return result.node
    return result


def predicted_avalanche_size(out: Tensor, batch: Any) -> Tensor:
    r"""Avalanche size from footprint outputs: :math:`\sum_i [\ell_i > 0]\,(e^{c_i} - 1)`
    per graph, for logits :math:`\ell` and log counts :math:`c` (clamped at 0)."""
    counts = torch.expm1(out[:, 1].clamp(min=0)) * (out[:, 0] > 0)
    return scatter(counts, _node_batch(batch, counts), 0, dim_size=num_graphs(batch),
                   reduce="sum")  # fmt: skip


def footprint_exact(pred: Tensor, true: Tensor, batch: Tensor | None = None) -> Tensor:
    """1.0 for every graph whose predicted toppled set equals the true one, else 0.0
    (float64, :math:`(B,)`). Arguments as in :func:`~sgnn.train.footprint_iou`."""
    iou = footprint_iou(pred, true, batch)
    return (iou == 1).to(torch.float64)


def sandpile_metrics(
    target: str, predict: Callable[[Any], Tensor] | None = None
) -> dict[str, Callable[[Module, Any], Tensor]]:
    r"""Per-graph metrics for :func:`~sgnn.train.evaluate`.

    ``"footprint"``: ``IoU`` (:func:`footprint_iou` of the sites with a
    positive logit), ``|dlog(1+s)|`` (absolute error of :math:`\log(1 + s)`
    of the avalanche size, see :func:`predicted_avalanche_size`), ``exact``
    (the fraction of avalanches whose footprint is predicted exactly, see
    :func:`footprint_exact`), ``iterations`` (what a recurrent model ran
    per avalanche) and ``settled`` (1 where a recurrent model's state settled
    within its iteration budget, 0 where the budget ran out); the last two are
    NaN, hence left out, for feed-forward models.
    ``"hazard"``: ``Spearman`` (:func:`spearman_per_graph`) and ``top-1%
    recall`` (:func:`top_fraction_recall`).

    The model runs once per batch, whatever the number of metrics: each
    metric reuses the outputs of the last ``(model, batch)`` it saw.

    Args:
        target (str): ``"footprint"`` or ``"hazard"``.
        predict (Callable, optional): ``predict(batch)`` giving the outputs, for
            predictors that are not modules (a heuristic); by default the model
            passed to each metric is called.
    """
    check_target(target)
    last: dict[str, Any] = {}

    def run(model: Module, batch: Any) -> Any:
        # Keyed by identity, holding the objects so that their ids cannot be reused.
        if last.get("model") is not model or last.get("batch") is not batch:
            result = predict(batch) if predict is not None else model(batch)
            last.update(model=model, batch=batch, result=result)
        return last["result"]

    def outputs(model: Module, batch: Any) -> Tensor:
        return node_outputs(run(model, batch))

    if target == "hazard":
        return {
            "Spearman": lambda model, batch: spearman_per_graph(
                outputs(model, batch)[:, 0], batch.hazard, _node_batch(batch, batch.hazard)),
            "top-1% recall": lambda model, batch: top_fraction_recall(
                outputs(model, batch)[:, 0], batch.hazard, _node_batch(batch, batch.hazard), 0.01),
        }  # fmt: skip

    def iou(model: Module, batch: Any) -> Tensor:
        out = outputs(model, batch)
        return footprint_iou(out[:, 0] > 0, batch.toppled > 0, _node_batch(batch, out))

    def exact(model: Module, batch: Any) -> Tensor:
        out = outputs(model, batch)
        return footprint_exact(out[:, 0] > 0, batch.toppled > 0, _node_batch(batch, out))

    def size_error(model: Module, batch: Any) -> Tensor:
        est = predicted_avalanche_size(outputs(model, batch), batch)
        return (torch.log1p(est) - torch.log1p(batch.avalanche_size.view(-1).to(est))).abs()

    def recurrent_field(name: str) -> Callable[[Module, Any], Tensor]:
        def metric(model: Module, batch: Any) -> Tensor:
            result = run(model, batch)
            if isinstance(result, RecurrentOutput):
                return getattr(result, name).to(torch.float64)
            return torch.full((num_graphs(batch),), float("nan"), dtype=torch.float64)

        return metric

    return {"IoU": iou, "|dlog(1+s)|": size_error, "exact": exact,
            "iterations": recurrent_field("iterations"),
            "settled": recurrent_field("converged")}  # fmt: skip


def _node_batch(batch: Any, like: Tensor) -> Tensor:
    return batch_vector(batch.get("batch"), like.size(0), like.device)
