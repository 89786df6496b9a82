"""The edge loop of sgnn's message-passing layers: chunked, fused, through ``propagate``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch_geometric.nn import MessagePassing
from torch_geometric.typing import Adj, SparseTensor
from torch_geometric.utils import is_sparse, is_torch_sparse_tensor

__all__ = ["ChunkedMessagePassing", "edge_pairs"]

from ._checks import check_edge_index


def edge_pairs(edge_index: Adj, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``(source, target)`` of every edge of a dense ``(2, E)`` index or a transposed
    sparse adjacency (``SparseTensor`` or ``torch.sparse``, rows = targets), in storage
    order; edge attributes of a sparse adjacency follow the same order."""
    if isinstance(edge_index, SparseTensor):
        row, col, _ = edge_index.coo()
        return col, row
    if is_torch_sparse_tensor(edge_index):
        if tuple(edge_index.shape[:2]) != (num_nodes, num_nodes):
            raise ValueError(f"a sparse adjacency must have shape ({num_nodes}, {num_nodes}), "
                             f"got {tuple(edge_index.shape)}")  # fmt: skip
        if edge_index.layout == torch.sparse_coo:
            row, col = edge_index._indices()
            return col, row
        if edge_index.layout == torch.sparse_csr:
            crow, col = edge_index.crow_indices(), edge_index.col_indices()
            row = torch.repeat_interleave(torch.arange(num_nodes, device=col.device), crow.diff())
            return col, row
        raise ValueError(f"sparse adjacency layout {edge_index.layout} is not supported; "
                         "use COO or CSR")  # fmt: skip
    check_edge_index(edge_index, num_nodes)
    return edge_index[0], edge_index[1]


class ChunkedMessagePassing(MessagePassing):
    r"""A :class:`~torch_geometric.nn.MessagePassing` whose edge loop runs in chunks.

    ``forward`` calls :meth:`propagate` as usual. A dense ``edge_index`` is
    handed to it as a transposed sparse adjacency (a view: no copy, no sort),
    so that PyG takes its fused route and calls :meth:`message_and_aggregate`:
    there the edges are processed :attr:`edge_chunk_size` at a time and each
    chunk's messages are summed (or maxed) into the output in place, so the
    per-edge intermediates stay cache-sized whatever the graph and the peak
    memory is that of one chunk. Under PyG's explain mode, with ``fuse =
    False`` and under :func:`torch.compile`, :meth:`propagate` takes its
    ordinary route instead,
    :meth:`message` on every edge and then :meth:`aggregate`: both routes give
    the same result.

    A subclass writes :meth:`message` for a slice of edges, as usual, and a
    :meth:`message_and_aggregate` that hands :meth:`chunked_aggregate` a
    function computing one chunk's messages from its sources, targets and
    edge slice (usually by gathering node tensors and calling
    :meth:`message`); its ``forward`` calls
    ``self.propagate(self.adjacency(edge_index, N)[0], ...)``. See
    :class:`~sgnn.nn.EGNNConv` and :class:`~sgnn.nn.LatticeConv`.
    """

    #: Edges per chunk of the fused loop.
    edge_chunk_size: int = 16384

    def adjacency(self, edge_index: Adj, num_nodes: int) -> tuple[Adj, Tensor]:
        """What ``forward`` passes to :meth:`propagate` -- ``edge_index`` itself if it is
        sparse, else the same edges as a transposed sparse COO view -- and the target of
        every edge (for degrees and edge counts), from one validation of the input."""
        src, dst = edge_pairs(edge_index, num_nodes)
        # Unfused: under explain, without fusion, and under torch.compile (which cannot
        # trace the sparse view, and fuses the per-edge chain itself).
        if is_sparse(edge_index) or not self.fuse or self.explain or (
                torch.compiler.is_compiling()):  # fmt: skip
            return edge_index, dst
        ones = torch.ones(1, device=src.device).expand(src.numel())
        adj_t = torch.sparse_coo_tensor(torch.stack([dst, src]), ones, (num_nodes, num_nodes),
                                        is_coalesced=False, check_invariants=False)
        return adj_t, dst

    def chunked_aggregate(self, adj_t: Adj, num_nodes: int, width: int,
                          messages: Callable[[Tensor, Tensor, slice], Tensor],
                          like: Tensor) -> Tensor:  # fmt: skip
        """Sum (or max, by :attr:`aggr`) of ``messages(src, dst, edges)`` over chunks of
        edges into a ``(num_nodes, width)`` tensor; nodes without edges get 0."""
        src, dst = edge_pairs(adj_t, num_nodes)
        maximum = self.aggr == "max"
        if maximum:
            out = like.new_full((num_nodes, width), float("-inf"))
        else:
            out = like.new_zeros(num_nodes, width)
        for start in range(0, src.numel(), self.edge_chunk_size):
            edges = slice(start, start + self.edge_chunk_size)
            d = dst[edges]
            msg = messages(src[edges], d, edges)
            if maximum:
                # Out of place: the backward of a maximum needs the result it produced.
                out = out.scatter_reduce(0, d[:, None].expand_as(msg), msg, "amax")
            else:
                out.index_add_(0, d, msg)  # a fresh accumulator: in place is safe for autograd
        if maximum:
            out = out.masked_fill(torch.isinf(out), 0.0)  # no neighbour: 0, as in PyG
        return out
