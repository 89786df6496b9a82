"""The frontier of :class:`~sgnn.nn.Recurrent`'s sparse iteration.

Where only a few nodes changed, only the nodes within the block's receptive field
downstream of them can change next, and computing those needs only the nodes within
the receptive field upstream of them: :class:`Adjacency` gathers both from the edges
into and out of every node.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


class Adjacency:
    """The edges into and out of every node, to gather those of a node set quickly."""

    def __init__(self, edge_index: Tensor, num_nodes: int) -> None:
        self.src, self.dst = edge_index[0], edge_index[1]
        self.into = EdgeTable(self.dst, num_nodes)
        self.out_of = EdgeTable(self.src, num_nodes)

    def upstream(self, nodes: Tensor, hops: int) -> tuple[Tensor, Tensor]:
        """Every node within ``hops`` hops upstream of ``nodes`` (``nodes`` included), and
        the ids of the edges into the nodes within ``hops - 1`` hops: exactly what a
        ``hops``-layer message passing needs to compute ``nodes``."""
        frontier, edge_parts, node_parts = nodes, [], [nodes]
        for _ in range(hops):
            edges = self.into.edges(frontier)
            edge_parts.append(edges)
            frontier = torch.unique(self.src[edges])
            node_parts.append(frontier)
        return torch.unique(torch.cat(node_parts)), torch.unique(torch.cat(edge_parts))

    def downstream(self, nodes: Tensor, hops: int) -> Tensor:
        """Every node within ``hops`` hops downstream of ``nodes``, ``nodes`` included."""
        frontier, parts = nodes, [nodes]
        for _ in range(hops):
            frontier = torch.unique(self.dst[self.out_of.edges(frontier)])
            parts.append(frontier)
        return torch.unique(torch.cat(parts))


class EdgeTable:
    """The ids of the edges whose ``index`` is each node: a padded ``(N, max degree)``
    table when degrees are small (a gather, the fastest for small node sets), else CSR."""

    MAX_PADDED_DEGREE = 64

    def __init__(self, index: Tensor, num_nodes: int) -> None:
        if index.device.type == "cpu":  # numpy's stable sort of integers is a radix sort
            perm = torch.from_numpy(np.argsort(index.numpy(), kind="stable"))
        else:
            perm = torch.argsort(index, stable=True)
        degree = torch.bincount(index, minlength=num_nodes)
        self.ptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=index.device)
        self.ptr[1:] = torch.cumsum(degree, 0)
        self.perm = perm
        width = int(degree.max()) if num_nodes else 0
        self.table: Tensor | None = None
        if width <= self.MAX_PADDED_DEGREE:
            owner = torch.repeat_interleave(torch.arange(num_nodes, device=index.device), degree,
                                            output_size=index.numel())  # fmt: skip
            rank = torch.arange(index.numel(), device=index.device) - self.ptr[owner]
            self.table = torch.full((num_nodes, max(width, 1)), -1, dtype=torch.long,
                                    device=index.device)  # fmt: skip
            self.table[owner, rank] = perm

    def edges(self, nodes: Tensor) -> Tensor:
        if self.table is not None:
            ids = self.table[nodes].view(-1)
            return ids[ids >= 0]
        start, count = self.ptr[nodes], self.ptr[nodes + 1] - self.ptr[nodes]
        total = int(count.sum())
        offsets = torch.repeat_interleave(start - torch.cumsum(count, 0) + count, count,
                                          output_size=total)  # fmt: skip
        return self.perm[offsets + torch.arange(total, device=nodes.device)]
