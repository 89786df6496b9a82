"""Per-graph metrics of avalanche predictions (each returns one value per graph of a batch)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import scatter

__all__ = [
    "footprint_f1",
    "footprint_iou",
    "log_count_mae",
    "relative_size_error",
    "spearman_per_graph",
    "top_fraction_recall",
]


def batch_vector(batch: Tensor | None, n: int, device: torch.device) -> Tensor:
    """``batch``, or the graph index of ``n`` nodes of one graph (zeros)."""
    return torch.zeros(n, dtype=torch.long, device=device) if batch is None else batch


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


def _ranks(values: Tensor) -> Tensor:
    """Ranks 1..n with ties averaged (as for Spearman's rho)."""
    order = torch.argsort(values, stable=True)
    ranks = torch.empty_like(values, dtype=torch.float64)
    ranks[order] = torch.arange(1, values.numel() + 1, dtype=torch.float64, device=values.device)
    uniq, inverse = torch.unique(values, return_inverse=True)
    mean_rank = scatter(ranks, inverse, 0, dim_size=uniq.numel(), reduce="mean")
    return mean_rank[inverse]


def spearman_per_graph(pred: Tensor, true: Tensor, batch: Tensor | None = None) -> Tensor:
    r"""Spearman rank correlation between predictions and truth, per graph.

    Pearson correlation of the ranks (ties get their average rank); NaN for a
    graph whose predictions or truth are constant.
    """
    if pred.shape != true.shape or pred.dim() != 1:
        raise ValueError("pred and true must be 1-D of equal shape")
    b = batch_vector(batch, pred.numel(), pred.device)
    out = []
    for g in range(int(b.max()) + 1 if b.numel() else 0):
        mask = b == g
        rp, rt = _ranks(pred[mask]), _ranks(true[mask])
        rp, rt = rp - rp.mean(), rt - rt.mean()
        denom = torch.sqrt((rp * rp).sum() * (rt * rt).sum())
        out.append((rp * rt).sum() / denom if denom > 0 else torch.tensor(float("nan"),
                                                                       dtype=torch.float64))
    return torch.stack(out) if out else torch.empty(0, dtype=torch.float64)


def top_fraction_recall(pred: Tensor, true: Tensor, batch: Tensor | None = None,
                        fraction: float = 0.01) -> Tensor:  # fmt: skip
    r"""Recall of the most dangerous sites, per graph.

    The :math:`k = \lceil f n \rceil` sites with the largest true values are
    the targets; the score is the fraction of them among the :math:`k` sites
    with the largest predictions (ties broken by index).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    b = batch_vector(batch, pred.numel(), pred.device)
    out = []
    for g in range(int(b.max()) + 1 if b.numel() else 0):
        mask = b == g
        p, t = pred[mask], true[mask]
        k = max(1, int(torch.ceil(torch.tensor(fraction * p.numel())).item()))
        top_true = set(torch.topk(t, k, sorted=False).indices.tolist())
        top_pred = set(torch.topk(p, k, sorted=False).indices.tolist())
        out.append(len(top_true & top_pred) / k)
    return torch.tensor(out, dtype=torch.float64)
