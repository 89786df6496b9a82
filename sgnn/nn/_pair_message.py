"""Shared machinery of layers whose message is a one-hidden-layer network of (x_i, x_j)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import Linear, Module
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import degree

from ._checks import check_edge_index


class PairMessagePassing(MessagePassing):
    r"""Base of :class:`~sgnn.nn.PairwiseSetConv` and :class:`~sgnn.nn.LatticeConv`.

    The message is :math:`W_2\,\sigma(W_1 \mathbf{u}_{ij} + \mathbf{b}_1)` with
    :math:`\mathbf{u}_{ij} = [\mathbf{x}_i, \mathbf{x}_j]` or, with
    ``with_difference``, :math:`[\mathbf{x}_i, \mathbf{x}_j, \mathbf{x}_i -
    \mathbf{x}_j]`. The first layer is linear in :math:`\mathbf{x}_i` and
    :math:`\mathbf{x}_j` separately, so it is applied to nodes before pairing.
    With sum or mean aggregation the last layer is linear too and commutes
    with the aggregation, :math:`\sum_j (W_2 \mathbf{s}_{ij} + \mathbf{b}_2) =
    W_2 \sum_j \mathbf{s}_{ij} + d_i \mathbf{b}_2`, so :meth:`message` then
    returns the hidden activations :math:`\mathbf{s}_{ij}` and :math:`W_2` is
    applied per node: one :math:`E \times H \times F'` product fewer.

    Edges are processed :attr:`edge_chunk_size` at a time and accumulated in place,
    so the per-edge intermediates stay small enough for the cache whatever
    the graph's size, which keeps time linear in the number of edges.
    """

    #: Edges per chunk of the edge loop.
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
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
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
        self.lin_pair.reset_parameters()
        self.lin_msg.reset_parameters()
        self.lin_root.reset_parameters()

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

    def propagate_pairs(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """``lin_root(x)`` plus the aggregated messages along ``edge_index``.

        The edge loop is chunked (see the class docstring) and calls
        :meth:`message` on each chunk; the result equals :meth:`propagate`.
        """
        target, source = self.node_terms(x)
        n = x.size(0)
        check_edge_index(edge_index, n)
        src, dst = edge_index[0], edge_index[1]
        linear = self._linear_after_aggregation
        width = self.hidden_channels if linear else self.out_channels
        if self.aggr == "max":
            out = x.new_full((n, width), float("-inf"))
        else:
            out = x.new_zeros(n, width)
        for start in range(0, src.numel(), self.edge_chunk_size):
            stop = start + self.edge_chunk_size
            s, d = src[start:stop], dst[start:stop]
            msg = self.message(target.index_select(0, d), source.index_select(0, s))
            if self.aggr == "max":
                # Out of place: the backward of a maximum needs the result it produced.
                out = out.scatter_reduce(0, d[:, None].expand_as(msg), msg, "amax")
            else:
                out.index_add_(0, d, msg)  # a fresh accumulator: in place is safe for autograd
        if self.aggr == "max":
            out = out.masked_fill(torch.isinf(out), 0.0)  # no neighbour: 0, as in PyG
        if linear:
            count = degree(dst, n, dtype=out.dtype)
            if self.aggr == "mean":
                out = out / count.clamp(min=1)[:, None]
                count = (count > 0).to(out.dtype)  # the mean of the biases is the bias
            out = out @ self.lin_msg.weight.t() + count[:, None] * self.lin_msg.bias
        return self.lin_root(x) + out

    @property
    def _linear_after_aggregation(self) -> bool:
        return self.aggr in ("sum", "add", "mean")

    def message(self, target_i: Tensor, source_j: Tensor) -> Tensor:
        hidden = self.act(target_i + source_j)
        return hidden if self._linear_after_aggregation else self.lin_msg(hidden)
