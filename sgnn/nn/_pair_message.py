"""Shared machinery of layers whose message is a one-hidden-layer network of (x_i, x_j)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import Linear, Module
from torch_geometric.typing import Adj

from ._checks import check_channels
from .chunked import ChunkedMessagePassing


class PairMessagePassing(ChunkedMessagePassing):
    r"""Base of :class:`~sgnn.nn.PairwiseSetConv` and :class:`~sgnn.nn.LatticeConv`.

    The message is :math:`W_2\,\sigma(W_1 \mathbf{u}_{ij} + \mathbf{b}_1)` with
    :math:`\mathbf{u}_{ij} = [\mathbf{x}_i, \mathbf{x}_j]` or, with
    ``with_difference``, :math:`[\mathbf{x}_i, \mathbf{x}_j, \mathbf{x}_i -
    \mathbf{x}_j]`. The first layer is linear in :math:`\mathbf{x}_i` and
    :math:`\mathbf{x}_j` separately, so it is applied to nodes before pairing
    (``target`` and ``source`` below). With sum or mean aggregation the last
    layer is linear too and commutes with the aggregation,
    :math:`\bigoplus_j (W_2 \mathbf{s}_{ij} + \mathbf{b}_2) = W_2 \bigoplus_j
    \mathbf{s}_{ij} + (\bigoplus_j 1)\, \mathbf{b}_2`, so :meth:`message` then
    returns the hidden activations :math:`\mathbf{s}_{ij}` followed by a column
    of ones, and :math:`W_2` is applied per node (:meth:`after_aggregation`):
    one :math:`E \times H \times F'` product fewer. The edge loop is
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
        **kwargs: Any,
    ) -> None:
        super().__init__(aggr=aggr, **kwargs)
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
        adj, _ = self.adjacency(edge_index, n)
        out = self.propagate(adj, target=target, source=source, size=(n, n))
        if self._linear_after_aggregation:
            out = self.after_aggregation(out[:, :-1], out[:, -1:])
        return self.lin_root(x) + out

    @property
    def _linear_after_aggregation(self) -> bool:
        return self._aggr in ("sum", "mean")

    def after_aggregation(self, hidden: Tensor, ones: Tensor) -> Tensor:
        r""":math:`W_2 \bigoplus_j \mathbf{s}_{ij} + (\bigoplus_j 1)\, \mathbf{b}_2`
        from the aggregated hidden units and the aggregated ones (sum or mean)."""
        return torch.addmm(ones * self.lin_msg.bias, hidden, self.lin_msg.weight.t())

    def _message_parts(self, node_ij: Tensor) -> tuple[Tensor, ...]:
        hidden = self.act(node_ij)
        if self._linear_after_aggregation:
            return hidden, hidden.new_ones(hidden.size(0), 1)
        return (self.lin_msg(hidden),)

    def message(self, target_i: Tensor, source_j: Tensor) -> Tensor:
        """The hidden units and a column of ones under sum or mean (see the class
        docstring), the message itself under max."""
        parts = self._message_parts(target_i + source_j)
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def message_and_aggregate(self, adj_t: Adj, target: Tensor, source: Tensor) -> Tensor:
        linear = self._linear_after_aggregation
        out = self.chunked_aggregate(adj_t, self._message_parts,
                                     {"node_ij": (target, source)},
                                     (self._aggr,) * (2 if linear else 1))  # fmt: skip
        return torch.cat(out, dim=1) if linear else out[0]
