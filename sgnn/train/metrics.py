"""Per-graph ranking metrics: each returns one value per graph of a batch.

Vectorised over the graphs (one sort and a few scatters per batch, no loop over graphs);
graphs are given by a PyG ``batch`` vector, sorted or not.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import scatter

__all__ = [
    "alarm_precision_recall",
    "batch_vector",
    "captured_fraction",
    "spearman_per_graph",
    "top_fraction_recall",
]


def batch_vector(batch: Tensor | None, n: int, device: torch.device) -> Tensor:
    """``batch``, or the graph index of ``n`` nodes of one graph (zeros)."""
    return torch.zeros(n, dtype=torch.long, device=device) if batch is None else batch


def _check(pred: Tensor, true: Tensor, batch: Tensor | None) -> tuple[Tensor, int]:
    """The batch vector (zeros without one) and the number of graphs."""
    if pred.shape != true.shape or pred.dim() != 1:
        raise ValueError(f"pred and true must be 1-D of equal shape, got {tuple(pred.shape)} "
                         f"and {tuple(true.shape)}")  # fmt: skip
    b = batch_vector(batch, pred.numel(), pred.device)
    if b.shape != pred.shape:
        raise ValueError(f"batch must have shape {tuple(pred.shape)}, got {tuple(b.shape)}")
    return b, int(b.max()) + 1 if b.numel() else 0


def _sorted_within_graphs(values: Tensor, batch: Tensor, descending: bool) -> Tensor:
    """The permutation that sorts nodes by graph, then by value within each graph (ties
    in index order)."""
    order = torch.argsort(values, descending=descending, stable=True)
    return order[torch.argsort(batch[order], stable=True)]


def _positions(order: Tensor, batch: Tensor, size: int) -> Tensor:
    """Position (from 0) of every node within its graph in the order ``order``."""
    count = torch.bincount(batch, minlength=size)
    start = torch.cumsum(count, 0) - count
    position = torch.empty_like(order)
    position[order] = torch.arange(order.numel(), device=order.device) - start[batch[order]]
    return position


def _ranks(values: Tensor, batch: Tensor, size: int) -> Tensor:
    """Ranks 1..n within each graph, ties averaged (as for Spearman's rho), float64."""
    order = _sorted_within_graphs(values, batch, descending=False)
    v, g = values[order], batch[order]
    new = torch.ones_like(g, dtype=torch.bool)
    new[1:] = (v[1:] != v[:-1]) | (g[1:] != g[:-1])  # a new run of equal values
    run = torch.cumsum(new, 0) - 1
    rank = _positions(order, batch, size)[order].double() + 1
    mean_rank = scatter(rank, run, 0, dim_size=int(new.sum()), reduce="mean")
    out = torch.empty_like(rank)
    out[order] = mean_rank[run]
    return out


def spearman_per_graph(pred: Tensor, true: Tensor, batch: Tensor | None = None) -> Tensor:
    r"""Spearman rank correlation between predictions and truth, per graph.

    Pearson correlation of the ranks within each graph (ties get their average rank);
    NaN for a graph whose predictions or truth are constant.

    Args:
        pred (torch.Tensor): Predictions, shape :math:`(N,)`.
        true (torch.Tensor): Truth, shape :math:`(N,)`.
        batch (torch.Tensor, optional): Graph of every node. (default: one graph)

    Returns:
        torch.Tensor: float64, shape :math:`(B,)`.
    """
    b, size = _check(pred, true, batch)
    rp, rt = _ranks(pred, b, size), _ranks(true, b, size)

    def total(v: Tensor) -> Tensor:
        return scatter(v, b, 0, dim_size=size)

    count = total(torch.ones_like(rp))
    rp, rt = rp - (total(rp) / count)[b], rt - (total(rt) / count)[b]
    denom = torch.sqrt(total(rp * rp) * total(rt * rt))
    return torch.where(denom > 0, total(rp * rt) / denom, torch.full_like(denom, torch.nan))


def top_fraction_recall(pred: Tensor, true: Tensor, batch: Tensor | None = None,
                        fraction: float = 0.01) -> Tensor:  # fmt: skip
    r"""Recall of the most dangerous sites, per graph.

    The :math:`k = \lceil f n \rceil` sites with the largest true values are the targets
    (:math:`f n` rounded to single precision first, so that :math:`0.01 \cdot 300` gives
    3); the score is the fraction of them among the :math:`k` sites with the largest
    predictions. Ties, in either, go to the site of lower index. NaN for a graph without
    nodes.

    Args:
        pred (torch.Tensor): Predictions, shape :math:`(N,)`.
        true (torch.Tensor): Truth, shape :math:`(N,)`.
        batch (torch.Tensor, optional): Graph of every node. (default: one graph)
        fraction (float, optional): :math:`f \in (0, 1]`. (default: ``0.01``)

    Returns:
        torch.Tensor: float64, shape :math:`(B,)`.
    """
    b, size, count, k = _top_k(pred, true, batch, fraction)

    def top(values: Tensor) -> Tensor:
        return _positions(_sorted_within_graphs(values, b, descending=True), b, size) < k[b]

    hits = scatter((top(pred) & top(true)).double(), b, 0, dim_size=size)
    return torch.where(count > 0, hits / k, torch.full_like(hits, torch.nan))


def _top_k(pred: Tensor, true: Tensor, batch: Tensor | None,
           fraction: float) -> tuple[Tensor, int, Tensor, Tensor]:  # fmt: skip
    """The checked batch vector, the number of graphs, the nodes per graph and
    :math:`k = \\lceil f n \\rceil` per graph."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise TypeError(f"fraction must be a number in (0, 1], got {fraction!r}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    b, size = _check(pred, true, batch)
    count = torch.bincount(b, minlength=size)
    return b, size, count, (count.double() * fraction).float().ceil().long().clamp(min=1)


def captured_fraction(pred: Tensor, true: Tensor, batch: Tensor | None = None,
                      fraction: float = 0.01) -> Tensor:  # fmt: skip
    r"""The share of the largest true values that the top-ranked predictions capture,
    per graph.

    With :math:`k = \lceil f n \rceil` as in :func:`top_fraction_recall`, the sum of the
    true values at the :math:`k` sites with the largest predictions (ties to the site of
    lower index) over the sum of the :math:`k` largest true values:

    .. math::
        C = \frac{\sum_{i \in \text{top}_k(\hat y)} y_i}{\sum_{i \in \text{top}_k(y)} y_i}.

    For non-negative truth, :math:`C \in [0, 1]`, and :math:`C = 1` exactly when the
    predicted top :math:`k` holds as much as the true top :math:`k`: unlike the recall,
    swapping sites of equal (or nearly equal) truth costs nothing, so a forecaster is not
    charged for which of many equally dangerous sites it names. NaN for a graph without
    nodes or whose true top :math:`k` sums to 0.

    Args:
        pred (torch.Tensor): Predictions, shape :math:`(N,)`.
        true (torch.Tensor): Truth, shape :math:`(N,)`, non-negative (e.g. avalanche
            sizes, not their logarithms, for the captured hazard).
        batch (torch.Tensor, optional): Graph of every node. (default: one graph)
        fraction (float, optional): :math:`f \in (0, 1]`. (default: ``0.01``)

    Returns:
        torch.Tensor: float64, shape :math:`(B,)`.
    """
    b, size, count, k = _top_k(pred, true, batch, fraction)
    value = true.double()

    def top_sum(ranking: Tensor) -> Tensor:
        top = _positions(_sorted_within_graphs(ranking, b, descending=True), b, size) < k[b]
        return scatter(torch.where(top, value, torch.zeros_like(value)), b, 0, dim_size=size)

    captured, best = top_sum(pred), top_sum(true)
    ok = (count > 0) & (best != 0)
    return torch.where(ok, captured / best.where(ok, torch.ones_like(best)),
                       torch.full_like(best, torch.nan))  # fmt: skip


def alarm_precision_recall(pred: Tensor, true: Tensor, threshold: Tensor | float,
                           batch: Tensor | None = None) -> tuple[Tensor, Tensor]:  # fmt: skip
    r"""Precision and recall of alarms raised where the prediction reaches a threshold,
    per graph.

    A site is alarmed when :math:`\hat y_i \ge t` and dangerous when :math:`y_i \ge t`;
    the precision is the fraction of alarmed sites that are dangerous (NaN without
    alarms), the recall the fraction of dangerous sites that are alarmed (NaN without
    dangerous sites).

    Args:
        pred (torch.Tensor): Predictions, shape :math:`(N,)`.
        true (torch.Tensor): Truth, shape :math:`(N,)`, on the scale of ``pred``.
        threshold (torch.Tensor or float): :math:`t`, one number or one per graph,
            :math:`(B,)`.
        batch (torch.Tensor, optional): Graph of every node. (default: one graph)

    Returns:
        (torch.Tensor, torch.Tensor): Precision and recall, float64, :math:`(B,)` each.
    """
    b, size = _check(pred, true, batch)
    t = torch.as_tensor(threshold, dtype=torch.float64, device=pred.device).reshape(-1)
    if t.numel() not in (1, size) or not bool(torch.isfinite(t).all()):
        raise ValueError(f"threshold must be one finite number or one per graph ({size}), "
                         f"got shape {tuple(t.shape)}")  # fmt: skip
    t = t.expand(size)[b]
    alarm, danger = pred.double() >= t, true.double() >= t

    def total(mask: Tensor) -> Tensor:
        return scatter(mask.double(), b, 0, dim_size=size)

    hits, alarms, dangers = total(alarm & danger), total(alarm), total(danger)
    nan = torch.full_like(hits, torch.nan)
    precision = torch.where(alarms > 0, hits / alarms.clamp(min=1), nan)
    return precision, torch.where(dangers > 0, hits / dangers.clamp(min=1), nan)
