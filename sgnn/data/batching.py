"""Batches of graphs that all have the same number of nodes, without collating graph by graph."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Batch

from .._checks import check_positive_int

__all__ = ["equal_size_batch"]


def equal_size_batch(num_graphs: int, size: int, edge_index: Tensor | None = None,
                     edge_indices: Mapping[str, Tensor] | None = None,
                     **fields: Any) -> Batch:  # fmt: skip
    r"""A :class:`~torch_geometric.data.Batch` of ``num_graphs`` graphs of ``size`` nodes each.

    The same batch that :meth:`Batch.from_data_list` would build from the
    graphs one by one, made in a few tensor operations: sets of a fixed size,
    particle systems, lattices of one shape. ``batch`` and ``ptr`` are set;
    ``edge_index``, the edges of *one* graph (the same for all), is repeated
    with each graph's node offset.

    Args:
        num_graphs (int): Number of graphs :math:`B`.
        size (int): Nodes per graph :math:`n`.
        edge_index (torch.Tensor, optional): Edges of one graph, :math:`(2, E)`.
        edge_indices (Mapping[str, torch.Tensor], optional): Further edge sets of
            one graph under their keys (say the dilated edges that
            :class:`~sgnn.nn.LatticeGNN` reads under
            :func:`~sgnn.pool.dilated_edge_key`), repeated like ``edge_index``.
        **fields: Further attributes, stored as given (node-level ones laid out
            graph after graph, :math:`(Bn, \dots)`).
    """
    b, n = check_positive_int(num_graphs, "num_graphs"), check_positive_int(size, "size")
    device = next((v.device for v in fields.values() if isinstance(v, Tensor)), None)
    graphs = torch.arange(b, device=device)
    out = Batch(batch=graphs.repeat_interleave(n), ptr=n * torch.arange(b + 1, device=device),
                **fields)  # fmt: skip
    edges = dict(edge_indices or {})
    if edge_index is not None:
        edges["edge_index"] = edge_index
    for key, index in edges.items():
        if not isinstance(index, Tensor):
            raise TypeError(f"{key} must be a tensor of shape (2, E), got {type(index).__name__}")
        if index.dim() != 2 or index.size(0) != 2:
            raise ValueError(f"{key} must have shape (2, E), got {tuple(index.shape)}")
        e = index.size(1)
        out[key] = index.repeat(1, b) + n * graphs.repeat_interleave(e)
    return out
