r"""Pooling across the levels of a coarse-graining hierarchy: plain tensor operations.

Block pooling :func:`coarse_grain` (the :math:`P` of coarse-graining
equivariance) and its adjoint copy :func:`refine`, with the reduction checks and
the key of dilated lattice edges. This module needs only torch and PyG's
``scatter``: :mod:`sgnn.nn` imports it without the data or sandpile stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch_geometric.utils import scatter

from ._checks import check_positive_int

__all__ = ["check_reductions", "coarse_grain", "dilated_edge_key", "refine"]

#: The reductions block pooling accepts, per column or for all columns.
_REDUCTIONS = ("sum", "mean", "max", "min")


def coarse_grain(
    x: Tensor,
    cluster: Tensor,
    reduce: str | Sequence[str] = "sum",
    dim_size: int | None = None,
) -> Tensor:
    r"""Pool node features into their blocks: :math:`X'_c = \bigoplus_{i : c_i = c} X_i`.

    A thin, checked wrapper of :func:`torch_geometric.utils.scatter` (which
    uses ``torch-scatter`` when it is installed).

    Args:
        x (torch.Tensor): Node features, shape :math:`(N, *)`.
        cluster (torch.Tensor): Block of every node, shape :math:`(N,)`,
            ``torch.long``.
        reduce (str or Sequence[str], optional): ``"sum"``, ``"mean"``,
            ``"max"`` or ``"min"``; or one of these per feature column of a 2-D
            ``x`` (e.g. mean-pool densities but max-pool an indicator, so
            that it survives on every level). (default: ``"sum"``)
        dim_size (int, optional): Number of blocks; ``cluster.max() + 1`` if
            omitted. Give it when trailing blocks may be empty.

    Returns:
        torch.Tensor: Shape :math:`(N', *)`.
    """
    _check_cluster(x, cluster, dim_size)
    if isinstance(reduce, str):
        if reduce not in _REDUCTIONS:
            raise ValueError(f"reduce must be one of {_REDUCTIONS}, got {reduce!r}")
        return scatter(x, cluster, dim=0, dim_size=dim_size, reduce=reduce)
    reductions = check_reductions(reduce, x.size(-1) if x.dim() == 2 else None)
    if x.dim() != 2:
        raise ValueError(f"a per-column reduce needs x of shape (N, F), got {tuple(x.shape)}")
    if dim_size is None:
        dim_size = int(cluster.max()) + 1 if cluster.numel() else 0
    out = x.new_empty(dim_size, x.size(1))
    for name in set(reductions):
        columns = torch.tensor([i for i, r in enumerate(reductions) if r == name],
                               device=x.device)  # fmt: skip
        out[:, columns] = scatter(x[:, columns], cluster, dim=0, dim_size=dim_size,
                                  reduce=name)  # fmt: skip
    return out


def check_reductions(reduce: Any, channels: int | None) -> tuple[str, ...]:
    """Validates a per-column ``reduce``: a sequence of ``channels`` names from _REDUCTIONS."""
    if isinstance(reduce, str) or not isinstance(reduce, Sequence):
        raise TypeError(f"reduce must be a str or a sequence of str, got {reduce!r}")
    reductions = tuple(reduce)
    bad = [r for r in reductions if r not in _REDUCTIONS]
    if bad:
        raise ValueError(f"reduce entries must be in {_REDUCTIONS}, got {bad[0]!r}")
    if channels is not None and len(reductions) != channels:
        raise ValueError(f"reduce has {len(reductions)} entries, one per feature column "
                         f"expected ({channels})")  # fmt: skip
    return reductions


def refine(x_coarse: Tensor, cluster: Tensor) -> Tensor:
    r"""Copy every block's value back to its sites: :math:`X_i = X'_{c_i}`.

    The adjoint of sum-pooling by :func:`coarse_grain`.

    Args:
        x_coarse (torch.Tensor): Block features, shape :math:`(N', *)`.
        cluster (torch.Tensor): Block of every fine node, shape :math:`(N,)`.

    Returns:
        torch.Tensor: Shape :math:`(N, *)`.
    """
    if not isinstance(x_coarse, Tensor) or x_coarse.dim() < 1:
        raise TypeError("x_coarse must be a tensor of shape (N', *)")
    if not isinstance(cluster, Tensor) or cluster.dim() != 1 or cluster.dtype != torch.long:
        raise TypeError("cluster must be a 1-D torch.long tensor")
    if cluster.numel() and (cluster.min() < 0 or cluster.max() >= x_coarse.size(0)):
        raise ValueError(f"cluster values must lie in 0..{x_coarse.size(0) - 1}")
    return x_coarse.index_select(0, cluster)


def _check_cluster(x: Tensor, cluster: Tensor, dim_size: int | None = None) -> None:
    if not isinstance(x, Tensor) or x.dim() < 1:
        raise TypeError("x must be a tensor of shape (N, *)")
    if not isinstance(cluster, Tensor) or cluster.dim() != 1 or cluster.dtype != torch.long:
        raise TypeError("cluster must be a 1-D torch.long tensor")
    if cluster.numel() != x.size(0):
        raise ValueError(f"cluster has {cluster.numel()} entries but x has {x.size(0)} rows")
    if cluster.numel() and cluster.min() < 0:
        raise ValueError("cluster values must be non-negative")
    if dim_size is not None:
        if isinstance(dim_size, bool) or not isinstance(dim_size, int) or dim_size < 0:
            raise ValueError(f"dim_size must be a non-negative int, got {dim_size!r}")
        if cluster.numel() and int(cluster.max()) >= dim_size:
            raise ValueError(f"cluster values must be block indices in 0..{dim_size - 1} "
                             f"(dim_size = {dim_size}), got {int(cluster.max())}")  # fmt: skip


def dilated_edge_key(dilation: int) -> str:
    """The ``Data`` key of the edges of a lattice dilated by ``dilation``.

    ``"edge_index"`` for 1, else ``"edge_index_dilation_<d>"``; the key
    contains ``"index"``, so PyG's batching offsets it like ``edge_index``.
    """
    dilation = check_positive_int(dilation, "dilation")
    return "edge_index" if dilation == 1 else f"edge_index_dilation_{dilation}"
