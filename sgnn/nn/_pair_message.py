"""Shared machinery of layers whose message is a one-hidden-layer network of (x_i, x_j)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import Linear, Module
from torch_geometric.typing import Adj
from torch_geometric.utils import degree

from ._checks import check_channels
from .chunked import ChunkedMessagePassing, edge_pairs


class PairMessagePassing(ChunkedMessagePassing):
    r"""Base of :class:`~sgnn.nn.PairwiseSetConv` and :class:`~sgnn.nn.LatticeConv`.

    The message is :math:`W_2\,\sigma(W_1 \mathbf{u}_{ij} + \mathbf{b}_1)` with
    :math:`\mathbf{u}_{ij} = [\mathbf{x}_i, \mathbf{x}_j]` or, with
    ``with_difference``, :math:`[\mathbf{x}_i, \mathbf{x}_j, \mathbf{x}_i -
    \mathbf{x}_j]`. The first layer is linear in :math:`\mathbf{x}_i` and
    :math:`\mathbf{x}_j` separately, so it is applied to nodes before pairing
    (``target`` and ``source`` below). With sum or mean aggregation the last
    layer is linear too and commutes with the aggregation,
    :math:`\sum_j (W_2 \mathbf{s}_{ij} + \mathbf{b}_2) = W_2 \sum_j
    \mathbf{s}_{ij} + d_i \mathbf{b}_2`, so :meth:`message` then returns the
    hidden activations :math:`\mathbf{s}_{ij}` and :math:`W_2` is applied per
    node: one :math:`E \times H \times F'` product fewer. The edge loop is
    :class:`~sgnn.nn.ChunkedMessagePassing`'s.
    """

    #: Edges per chunk: the messages are only H wide here.
    edge_chunk_size: int = 32768

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int | None,
        aggr: str,
        act: Callable[[], Module],
        with_difference: bool,
    ) -> None:
        super().__init__(aggr=aggr)
        check_channels(in_channels=in_channels, out_channels=out_channels)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels or out_channels
        self.with_difference = with_difference
        blocks = 3 if with_difference else 2
        self.lin_pair = Linear(blocks * in_channels, self.hidden_channels)
        self.act = act()
        self.lin_msg = Linear(self.hidden_channels, out_channels)
        self.lin_root = Linear(in_channels, out_channels, bias=False)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for lin in (self.lin_pair, self.lin_msg, self.lin_root):
            lin.reset_parameters()

    def node_terms(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(W_1 u)`` split into its target part (with the bias) and source part."""
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}), got {tuple(x.shape)}")
        f = self.in_channels
        w = self.lin_pair.weight
        a, b = w[:, :f], w[:, f : 2 * f]
        if self.with_difference:
            c = w[:, 2 * f :]
            a, b = a + c, b - c
        return torch.addmm(self.lin_pair.bias, x, a.t()), x @ b.t()

    def propagate_pairs(self, x: Tensor, edge_index: Adj) -> Tensor:
        """``lin_root(x)`` plus the aggregated messages along ``edge_index`` (a
        ``(2, E)`` index or a transposed sparse adjacency), through :meth:`propagate`."""
        target, source = self.node_terms(x)
        n = x.size(0)
        adj, dst = self.adjacency(edge_index, n)
        out = self.propagate(adj, target=target, source=source, size=(n, n))
        if self._linear_after_aggregation:
            count = degree(dst, n, dtype=out.dtype)
            if self.aggr == "mean":
                count = (count > 0).to(out.dtype)  # the mean of the biases is the bias
            out = out @ self.lin_msg.weight.t() + count[:, None] * self.lin_msg.bias
        return self.lin_root(x) + out

    @property
    def _linear_after_aggregation(self) -> bool:
        return self.aggr in ("sum", "add", "mean")

    def message(self, target_i: Tensor, source_j: Tensor) -> Tensor:
        hidden = self.act(target_i + source_j)
        return hidden if self._linear_after_aggregation else self.lin_msg(hidden)

    def message_and_aggregate(self, adj_t: Adj, target: Tensor, source: Tensor) -> Tensor:
        n = target.size(0)
        width = self.hidden_channels if self._linear_after_aggregation else self.out_channels

        def messages(src: Tensor, dst: Tensor, edges: slice) -> Tensor:
            return self.message(target.index_select(0, dst), source.index_select(0, src))

        out = self.chunked_aggregate(adj_t, n, width, messages, target)
        if self.aggr == "mean":
            count = degree(edge_pairs(adj_t, n)[1], n, dtype=out.dtype)
            out = out / count.clamp(min=1)[:, None]
        return out
