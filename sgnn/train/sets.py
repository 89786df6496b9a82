"""Choosing one element of each set: a softmax over the set's elements.

Tasks such as "which element is the largest?" or "which one is the odd one
out?" give every element a score and ask for one element per set. The sets
of a PyG batch may differ in size, so the softmax runs over each set's
elements (given by ``batch``, sorted as PyG batches are), and the target is a
position *within* each set.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import scatter

__all__ = ["set_argmax", "set_cross_entropy"]


def _check(scores: Tensor, batch: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Flattened scores, elements per set and the index of each set's first element."""
    if scores.dim() == 2 and scores.size(1) == 1:
        scores = scores[:, 0]
    if scores.dim() != 1 or not scores.is_floating_point():
        raise ValueError(f"scores must be floating point of shape (N,) or (N, 1), got "
                         f"{scores.dtype} {tuple(scores.shape)}")  # fmt: skip
    if batch.shape != scores.shape or batch.dtype != torch.long:
        raise ValueError(f"batch must be int64 of shape {tuple(scores.shape)}, got "
                         f"{batch.dtype} {tuple(batch.shape)}")  # fmt: skip
    if batch.numel() and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("batch must be sorted, as in PyG batches")
    counts = torch.bincount(batch) if batch.numel() else batch.new_zeros(0)
    return scores, counts, torch.cumsum(counts, 0) - counts


def set_cross_entropy(scores: Tensor, batch: Tensor, target: Tensor) -> Tensor:
    r"""Cross-entropy of choosing element ``target[s]`` of each set :math:`s`.

    .. math::
        \mathcal{L} = \frac{1}{B} \sum_{s} \Big( \log \sum_{i \in s}
        e^{z_i} - z_{t_s} \Big),

    the mean over sets of the negative log-softmax, taken over the set's own
    elements, of the target element's score. It equals
    :func:`torch.nn.functional.cross_entropy` on a ``(B, n)`` matrix of scores
    when all sets have ``n`` elements.

    Args:
        scores (torch.Tensor): One score per element, :math:`(N,)` or :math:`(N, 1)`.
        batch (torch.Tensor): Set of every element, sorted, :math:`(N,)`.
        target (torch.Tensor): Position of the chosen element within each set
            (0 for its first element), :math:`(B,)`.

    Returns:
        torch.Tensor: A scalar.
    """
    scores, counts, start = _check(scores, batch)
    if target.shape != counts.shape or target.dtype != torch.long:
        raise ValueError(f"target must be int64 of shape ({counts.numel()},), one position per "
                         f"set, got {target.dtype} {tuple(target.shape)}")  # fmt: skip
    if bool(((target < 0) | (target >= counts)).any()):
        raise ValueError("target must be a position within its set, 0 <= target < set size")
    peak = scatter(scores.detach(), batch, 0, dim_size=counts.numel(), reduce="max")
    total = scatter((scores - peak[batch]).exp(), batch, 0, dim_size=counts.numel())
    return (peak + total.log() - scores[start + target]).mean()


def set_argmax(scores: Tensor, batch: Tensor) -> Tensor:
    """The position within each set of its highest-scoring element.

    Ties go to the first of the tied elements, as in :func:`torch.argmax`.

    Args:
        scores (torch.Tensor): One score per element, :math:`(N,)` or :math:`(N, 1)`.
        batch (torch.Tensor): Set of every element, sorted, :math:`(N,)`.

    Returns:
        torch.Tensor: int64, :math:`(B,)`.
    """
    scores, counts, start = _check(scores, batch)
    peak = scatter(scores, batch, 0, dim_size=counts.numel(), reduce="max")
    position = torch.arange(scores.numel(), device=scores.device) - start[batch]
    # The smallest position among the elements that reach the maximum.
    position = torch.where(scores == peak[batch], position, torch.iinfo(torch.long).max)
    return scatter(position, batch, 0, dim_size=counts.numel(), reduce="min")
