"""An upper bound on the diameter of every graph of a batch, the scale of
:class:`~sgnn.nn.Recurrent`'s iteration budget."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ._checks import check_edge_index

__all__ = ["graph_diameter_bound"]


def graph_diameter_bound(edge_index: Tensor, batch: Tensor | None = None,
                         num_graphs: int | None = None) -> Tensor:  # fmt: skip
    r"""An upper bound on the diameter of every graph of a batch.

    Twice the eccentricity of each graph's first node (breadth-first search,
    treating edges as undirected), which lies between the diameter and twice
    it; the number of nodes where a graph is disconnected (no finite bound
    exists, and no path is longer). Used by :class:`Recurrent` for its
    iteration budget when the diameter is not given (on a lattice it is
    :math:`H + W - 2`).

    Args:
        edge_index (torch.Tensor): :math:`(2, E)`.
        batch (torch.Tensor, optional): Graph of every node, sorted.
            (default: one graph of ``edge_index.max() + 1`` nodes)
        num_graphs (int, optional): Number of graphs. (default: from ``batch``)

    Returns:
        torch.Tensor: float64, :math:`(B,)`.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    if batch is None:
        n = int(edge_index.max()) + 1 if edge_index.numel() else 1
        batch = torch.zeros(n, dtype=torch.long)
    n = batch.numel()
    check_edge_index(edge_index, n)
    num_graphs = int(batch.max()) + 1 if num_graphs is None else num_graphs
    b = batch.cpu().numpy()
    firsts = np.searchsorted(b, np.arange(num_graphs))
    ei = edge_index.cpu().numpy()
    adj = sp.coo_array((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n)).tocsr()
    dist = dijkstra(adj, directed=False, indices=firsts[firsts < n], unweighted=True,
                    min_only=True)  # fmt: skip
    counts = np.bincount(b, minlength=num_graphs)
    out = np.zeros(num_graphs)
    finite = np.isfinite(dist)
    np.maximum.at(out, b[finite], 2 * dist[finite])
    connected = np.bincount(b[finite], minlength=num_graphs) == counts
    out = np.where(connected, out, counts)
    return torch.from_numpy(out.astype(np.float64))
