"""The copies of a batch's graphs that the hint model's one-step supervision trains on."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_dense_adj

from sgnn.tasks._engine_replay import repeat_graphs


def graph(n: int, edges: list[tuple[int, int]], seed: int) -> Data:
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(seed))
    index = torch.tensor(edges, dtype=torch.long).t().reshape(2, -1)
    return Data(x=x, edge_index=index)


@pytest.mark.parametrize("k", [1, 3])
def test_repeat_graphs_is_each_graph_k_times_in_a_row(k: int) -> None:
    # Ragged sizes, directed edges, and a graph without edges (last, where a split by
    # the edges' graphs would lose it).
    graphs = [graph(4, [(0, 1), (1, 2), (3, 0)], 0), graph(2, [(1, 0)], 1), graph(3, [], 2)]
    copies = repeat_graphs(Batch.from_data_list(graphs), k)
    # Brute force: the dense adjacency is block-diagonal, graph g's block k times in a row.
    blocks = [to_dense_adj(g.edge_index, max_num_nodes=g.num_nodes)[0] for g in graphs]
    expected = torch.block_diag(*[b for b in blocks for _ in range(k)])
    n = sum(g.num_nodes for g in graphs) * k
    assert torch.equal(to_dense_adj(copies.edge_index, max_num_nodes=n)[0], expected)
    assert torch.equal(copies.x, torch.cat([g.x for g in graphs for _ in range(k)]))
    assert copies.num_graphs == 3 * k


def test_repeat_graphs_of_a_single_graph() -> None:
    g = graph(3, [(0, 1), (2, 1)], 0)
    copies = repeat_graphs(g, 2)
    assert torch.equal(copies.x, torch.cat([g.x, g.x]))
    assert copies.edge_index.tolist() == [[0, 2, 3, 5], [1, 1, 4, 4]]
