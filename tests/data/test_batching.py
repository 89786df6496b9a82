"""equal_size_batch builds what Batch.from_data_list builds, graph by graph."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data

from sgnn.data import data_lattice_shape, equal_size_batch, lattice_graph, sandpile_to_data
from sgnn.sandpile import sample_recurrent


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(0, 10), st.integers(0, 10**6))
def test_equal_size_batch_equals_from_data_list(b: int, n: int, e: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b * n, 3, generator=g)
    y = torch.randint(0, n, (b,), generator=g)
    edges = torch.randint(0, n, (2, e), generator=g)
    fast = equal_size_batch(b, n, edges, x=x, y=y)
    slow = Batch.from_data_list([Data(x=x[k * n : (k + 1) * n], y=y[k : k + 1], edge_index=edges)
                                 for k in range(b)])  # fmt: skip
    for key in ("x", "y", "edge_index", "batch", "ptr"):
        assert torch.equal(fast[key], slow[key]), key
    assert fast.num_graphs == b


def test_equal_size_batch_refuses_bad_sizes_and_edges() -> None:
    with pytest.raises(ValueError, match="size must be a positive int"):
        equal_size_batch(2, 0)
    with pytest.raises(ValueError, match=r"edge_index must have shape \(2, E\)"):
        equal_size_batch(2, 3, torch.zeros(3, 2, dtype=torch.long))


def test_data_lattice_shape_reads_what_sandpile_to_data_stored() -> None:
    assert data_lattice_shape(sandpile_to_data(sample_recurrent((3, 7), 0))) == (3, 7)
    edge_index, pos = lattice_graph((2, 2))
    with pytest.raises(ValueError, match="lattice_shape"):
        data_lattice_shape(Data(edge_index=edge_index, pos=pos))


def test_level_keys_and_level_batches_of_a_hierarchy() -> None:
    from torch_geometric.loader import DataLoader

    from sgnn.data import AddHierarchy, HierarchicalData
    from sgnn.train import batch_vector, num_graphs

    graphs = [AddHierarchy(num_levels=3)(sandpile_to_data(sample_recurrent((4, 4), s)))
              for s in range(2)]  # fmt: skip
    batch = next(iter(DataLoader(graphs, batch_size=2)))
    assert torch.equal(batch.level_batch(0), batch.batch)
    assert torch.equal(batch.level_batch(1), torch.arange(2).repeat_interleave(4))
    assert torch.equal(graphs[0].level_batch(0), torch.zeros(16, dtype=torch.long))
    is_level = HierarchicalData.is_level_key
    assert is_level("edge_index_2") and is_level("batch_1") and is_level("cluster_0")
    assert not is_level("edge_index") and not is_level("x")
    assert num_graphs(batch) == 2 and num_graphs(graphs[0]) == 1
    assert torch.equal(batch_vector(None, 3, torch.device("cpu")), torch.zeros(3, dtype=torch.long))
