"""The sandpile learning tasks: models, losses and metrics shared by the CLI and the examples."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.nn import Module
from torch.nn.functional import binary_cross_entropy_with_logits, mse_loss
from torch_geometric.transforms import Compose
from torch_geometric.utils import scatter

from .._checks import check_positive_int
from .._names import SAMPLE_TARGETS, SANDPILE_MODELS, SANDPILE_TRAINING
from ..data.transforms import AddDilatedEdges, AddHierarchy
from ..nn.lattice_gnn import LatticeGNN
from ..nn.recurrent import RecurrentOutput
from ..nn.rgnet import RGNet, RGNetOutput
from ..train.loop import num_graphs
from ..train.metrics import batch_vector, footprint_iou, spearman_per_graph, top_fraction_recall

__all__ = [
    "SANDPILE_MODELS",
    "SANDPILE_TRAINING",
    "MixedSizeLoader",
    "footprint_criterion",
    "footprint_exact",
    "predicted_avalanche_size",
    "sandpile_loss",
    "sandpile_metrics",
    "sandpile_model",
    "sandpile_transform",
    "train_sandpile_model",
]

#: The recurrent models (:mod:`sgnn.tasks.sandpile_recurrent`): footprint target only.
RECURRENT_MODELS = ("hint", "recurrent", "rg-recurrent", "count")
TARGETS = SAMPLE_TARGETS
#: Dilations of the ``"dilated"`` baseline; a fixed number, whatever the lattice size.
DILATIONS = (1, 2, 4, 8)
#: Input channels of sandpile_to_data: one-hot height (4), missing neighbours, drop site.
_IN_CHANNELS = {"footprint": 6, "hazard": 5}
_OUT_CHANNELS = {"footprint": 2, "hazard": 1}


def _check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    return target


def sandpile_transform(name: str | None = None) -> Compose | None:
    """What a sandpile model reads beyond the lattice itself.

    Without ``name``, the transform every model can read: the hierarchy and
    dilated edges. With a model name, only what that model needs: the
    hierarchy for the RGNets and ``"rg-recurrent"``, the dilated edges for
    ``"dilated"``, nothing (:obj:`None`) for the others. Use it as a dataset's
    ``transform`` to keep cached graphs small on large lattices.
    """
    if name is None:
        return Compose([AddHierarchy(), AddDilatedEdges(DILATIONS)])
    if name not in SANDPILE_MODELS:
        raise ValueError(f"name must be one of {SANDPILE_MODELS}, got {name!r}")
    if name in ("rgnet-exact", "rgnet-unet", "rg-recurrent"):
        return Compose([AddHierarchy()])
    if name == "dilated":
        return Compose([AddDilatedEdges(DILATIONS)])
    return None


def sandpile_model(name: str, target: str = "footprint", hidden_channels: int = 32) -> Module:
    r"""One of the models compared on sandpile avalanches.

    Feed-forward, with comparable parameter counts:

    * ``"rgnet-exact"``: :class:`~sgnn.nn.RGNet` (``mode="exact"``, depth 4);
    * ``"rgnet-unet"``: :class:`~sgnn.nn.RGNet` (``mode="unet"``, depth 2);
    * ``"local"``: :class:`~sgnn.nn.LatticeGNN` with four nearest-neighbour layers;
    * ``"dilated"``: :class:`~sgnn.nn.LatticeGNN` with dilations 1, 2, 4, 8.

    Recurrent, run until their state settles (footprint target only):

    * ``"hint"``: :class:`~sgnn.tasks.ToppleAutomaton`, the toppling rule
      learnt from single steps (a linear rule on an ordinal state);
    * ``"recurrent"``: :class:`~sgnn.tasks.FootprintAutomaton`, learnt from
      footprints alone;
    * ``"rg-recurrent"``: :class:`~sgnn.tasks.RGRecurrent`, the RGNet V-cycle
      as the recurrent body (``hidden_channels // 4`` wide: every iteration
      covers the whole hierarchy);
    * ``"count"``: :class:`~sgnn.tasks.CountAutomaton`, the least-action
      counting rule with thresholds tied across topplings, learnt from
      footprints alone (:func:`~sgnn.tasks.train_count_automaton`; 9
      parameters, ``hidden_channels`` unused).

    The RGNets mean-pool the one-hot heights (local densities, renormalized
    by :math:`b = 2` per level, see :class:`~sgnn.nn.RGNet`) and max-pool the
    missing-neighbour count and the drop-site indicator, so that every level
    knows which blocks touch the boundary and which holds the drop site.

    Args:
        name (str): One of :data:`SANDPILE_MODELS`.
        target (str, optional): ``"footprint"`` (outputs: toppled logit and
            :math:`\log(1 + \text{topplings})` per site) or ``"hazard"``
            (output: predicted hazard per site). (default: ``"footprint"``)
        hidden_channels (int, optional): Hidden size. (default: ``32``)
    """
    _check_target(target)
    check_positive_int(hidden_channels, "hidden_channels")
    if name in RECURRENT_MODELS:
        if target != "footprint":
            raise ValueError(f"the recurrent model {name!r} predicts footprints only, not "
                             f"{target!r}")  # fmt: skip
        from .count_automaton import CountAutomaton
        from .sandpile_recurrent import FootprintAutomaton, RGRecurrent, ToppleAutomaton

        if name == "count":
            return CountAutomaton("footprint")
        if name == "hint":
            return ToppleAutomaton(hidden_channels)
        if name == "recurrent":
            return FootprintAutomaton(hidden_channels=hidden_channels)
        return RGRecurrent(hidden_channels=max(1, hidden_channels // 4))
    c_in, c_out = _IN_CHANNELS[target], _OUT_CHANNELS[target]
    reduce = ("mean",) * 4 + ("max",) * (c_in - 4)
    if name in ("rgnet-exact", "rgnet-unet"):
        mode, depth = ("exact", 4) if name == "rgnet-exact" else ("unet", 2)
        return RGNet(c_in, hidden_channels, c_out, mode=mode, depth=depth, reduce=reduce,
                     renormalize=2.0)  # fmt: skip
    if name == "local":
        return LatticeGNN(c_in, hidden_channels, c_out, (1, 1, 1, 1))
    if name == "dilated":
        return LatticeGNN(c_in, hidden_channels, c_out, DILATIONS)
    raise ValueError(f"name must be one of {SANDPILE_MODELS}, got {name!r}")


def train_sandpile_model(model: Module, train_sets: Sequence[Any], val_sets: Sequence[Any], *,
                         epochs: int, lr: float, target: str = "footprint",
                         batch_size: int = 16, seed: int = 0,
                         patience: int | None = None, grad_clip: float | None = None,
                         progress: bool = True, desc: str | None = None,
                         log: Callable[[str], None] | None = None) -> Any:  # fmt: skip
    r"""Train a sandpile model on datasets of one lattice size each, as ``sgnn train`` does.

    :class:`~sgnn.tasks.CountAutomaton` is trained in stages by
    :func:`~sgnn.tasks.train_count_automaton` (``epochs`` first-wave epochs at
    ``lr``, then its threshold step; the validation sets are not used) and the
    result of that is returned; every other model by :func:`~sgnn.train.fit`
    with :func:`sandpile_loss` of ``target`` on a :class:`MixedSizeLoader`
    (sizes shuffled together, seeded), returning its
    :class:`~sgnn.train.History`.
    """
    from torch_geometric.loader import DataLoader

    from ..train.loop import fit
    from .count_automaton import CountAutomaton, train_count_automaton

    if not train_sets or any(len(d) == 0 for d in train_sets):
        raise ValueError("train_sets must hold at least one dataset, none of them empty")
    if isinstance(model, CountAutomaton):
        data = [graph for dataset in train_sets for graph in dataset]
        return train_count_automaton(model, data, warm_epochs=epochs, lr=lr, seed=seed, log=log)
    train = MixedSizeLoader([DataLoader(d, batch_size, shuffle=True) for d in train_sets], seed)
    val = MixedSizeLoader([DataLoader(d, batch_size) for d in val_sets], seed)
    return fit(model, sandpile_loss(target, seed=seed), train, val, epochs=epochs, lr=lr,
               patience=patience, grad_clip=grad_clip, progress=progress, desc=desc)


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

    if _check_target(target) == "hazard":
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
    _check_target(target)
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


class MixedSizeLoader:
    """Batches drawn from several loaders (one per lattice size), shuffled together.

    Graphs of one batch must share their number of hierarchy levels, so each
    loader holds one size; every epoch the batches of all loaders are visited
    in a fresh random order (seeded), so training alternates between sizes.
    Batches are drawn from the loaders as the epoch goes, one at a time (the
    loaders need a length).

    Args:
        loaders (Iterable): Loaders, e.g. one
            :class:`torch_geometric.loader.DataLoader` per size.
        seed (int, optional): Seed of the order. (default: ``0``)
    """

    def __init__(self, loaders: Iterable[Iterable[Any]], seed: int = 0) -> None:
        self.loaders = list(loaders)
        if not self.loaders:
            raise ValueError("loaders must hold at least one loader")
        self.rng = random.Random(seed)

    def __iter__(self) -> Iterator[Any]:
        # Lazy: shuffle which loader each step draws from, not the collated batches,
        # so only one batch is held at a time.
        order = [i for i, loader in enumerate(self.loaders) for _ in range(len(loader))]
        self.rng.shuffle(order)
        iterators = [iter(loader) for loader in self.loaders]
        for i in order:
            yield next(iterators[i])

    def __len__(self) -> int:
        return sum(len(loader) for loader in self.loaders)  # type: ignore[arg-type]


def _node_batch(batch: Any, like: Tensor) -> Tensor:
    return batch_vector(batch.get("batch"), like.size(0), like.device)
