"""lattice_graph and sandpile_to_data against brute force, and batching."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.loader import DataLoader
from torch_geometric.utils import is_undirected

from sgnn.data import (
    DROP_SITE_COLUMN,
    HEIGHT_COLUMNS,
    MISSING_COLUMN,
    lattice_graph,
    sandpile_heights,
    sandpile_to_data,
)
from sgnn.sandpile import sample_recurrent


def brute_lattice(shape: tuple[int, int], periodic: bool, d: int = 1) -> set[tuple[int, int]]:
    simple = d == 1 and (min(shape) > 2 or not periodic)
    g = nx.grid_2d_graph(*shape, periodic=periodic) if simple else None
    h, w = shape
    edges = set()
    for i in range(h):
        for j in range(w):
            for a, b in ((i - d, j), (i + d, j), (i, j - d), (i, j + d)):
                if periodic:
                    a, b = a % h, b % w
                elif not (0 <= a < h and 0 <= b < w):
                    continue
                if (a, b) != (i, j):
                    edges.add((i * w + j, a * w + b))
    if g is not None:  # cross-check with networkx where it is defined the same way
        assert len(edges) == 2 * g.number_of_edges()
    return edges


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.sampled_from(["open", "periodic"]),
       st.sampled_from([1, 1, 2, 3, 4]))  # fmt: skip
def test_lattice_graph_matches_brute_force(h: int, w: int, boundary: str, d: int) -> None:
    edge_index, pos = lattice_graph((h, w), boundary, dilation=d)
    assert edge_index.dtype == torch.long and pos.dtype == torch.long
    pairs = [tuple(e) for e in edge_index.t().tolist()]
    assert pairs == sorted(set(pairs))  # coalesced: sorted, no duplicates
    assert set(pairs) == brute_lattice((h, w), boundary == "periodic", d)
    assert is_undirected(edge_index)
    np.testing.assert_array_equal(pos.numpy(), np.argwhere(np.ones((h, w))))


def test_lattice_graph_is_not_pyg_grid() -> None:
    from torch_geometric.utils import grid

    ei, _ = grid(4, 4)
    ours, _ = lattice_graph((4, 4))
    assert ours.size(1) == 48 and ei.size(1) > ours.size(1)


def test_sandpile_to_data_features_and_targets() -> None:
    z = sample_recurrent((5, 7), 0)
    topplings = np.arange(35).reshape(5, 7)
    targets = {"topplings": topplings, "avalanche_size": 12}
    data = sandpile_to_data(z, drop_site=(2, 3), targets=targets)
    assert data.num_nodes == 35 and data.x.shape == (35, 6) and data.x.dtype == torch.float32
    np.testing.assert_array_equal(data.x[:, :4].argmax(1).numpy(), z.reshape(-1))
    # The named columns are the documented ones, and the heights read back exactly.
    assert (HEIGHT_COLUMNS, MISSING_COLUMN, DROP_SITE_COLUMN) == (slice(0, 4), 4, 5)
    np.testing.assert_array_equal(sandpile_heights(data.x).numpy(), z.reshape(-1))
    assert sandpile_to_data(z).x.shape == (35, DROP_SITE_COLUMN)
    with pytest.raises(ValueError, match=r"x must be sandpile node features"):
        sandpile_heights(data.x[:, :3])
    assert torch.all(data.x[:, :4].sum(1) == 1)
    missing = np.zeros((5, 7))
    missing[0] += 1
    missing[-1] += 1
    missing[:, 0] += 1
    missing[:, -1] += 1
    np.testing.assert_array_equal(data.x[:, 4].numpy(), missing.reshape(-1))
    assert data.x[:, 5].sum() == 1 and data.x[2 * 7 + 3, 5] == 1
    np.testing.assert_array_equal(data.topplings.numpy(), np.arange(35))
    assert data.avalanche_size.shape == (1,) and int(data.avalanche_size) == 12
    hist = sandpile_to_data(z, targets={"hist": np.arange(8)}).hist  # graph-level vector
    assert hist.shape == (1, 8)
    assert data.lattice_shape.tolist() == [[5, 7]]
    data.validate()


def test_batching_lattices_of_different_sizes() -> None:
    datas = [
        sandpile_to_data(sample_recurrent(s, i), targets={"t": np.full(s, i), "g": float(i)})
        for i, s in enumerate([(4, 4), (8, 8), (3, 5)])
    ]
    batch = next(iter(DataLoader(datas, batch_size=3)))
    assert batch.num_graphs == 3 and batch.num_nodes == 16 + 64 + 15
    assert batch.lattice_shape.tolist() == [[4, 4], [8, 8], [3, 5]]
    assert batch.g.tolist() == [0.0, 1.0, 2.0]
    for i, d in enumerate(batch.to_data_list()):
        assert torch.equal(d.edge_index, datas[i].edge_index)
        assert torch.equal(d.x, datas[i].x) and torch.all(d.t == i)


@pytest.mark.parametrize(
    ("z", "kwargs", "exc", "match"),
    [
        (np.zeros(4, dtype=int), {}, ValueError, "z must be a non-empty 2-D"),
        (np.zeros((2, 2, 2), dtype=int), {}, ValueError, "z must be a non-empty 2-D"),
        (np.full((2, 2), -1), {}, ValueError, "z must be a stable"),
        (np.full((2, 2), 4), {}, ValueError, "z must be a stable"),
        (np.zeros((2, 2)), {}, TypeError, "z must hold integer"),
        (np.zeros((2, 2), dtype=bool), {}, TypeError, "z must hold integer"),
        (np.zeros((2, 2), dtype=int), {"drop_site": (2, 0)}, ValueError, "drop_site"),
        (np.zeros((2, 2), dtype=int), {"drop_site": 3}, TypeError, "drop_site"),
        (np.zeros((2, 2), dtype=int), {"targets": {"x": 1}}, ValueError, "targets"),
        (np.zeros((2, 2), dtype=int), {"targets": {"size": 1}}, ValueError, "shadowed"),
        # as many entries as sites but not laid out per site: ambiguous, refused
        (np.zeros((2, 2), dtype=int), {"targets": {"t": np.zeros((1, 4))}}, ValueError, "targets"),
    ],
)  # fmt: skip
def test_sandpile_to_data_rejects_bad_input(z, kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match):
        sandpile_to_data(z, **kwargs)


@pytest.mark.parametrize(
    ("shape", "boundary", "exc"),
    [((0, 3), "open", ValueError), ((3,), "open", ValueError), ((2.0, 2), "open", TypeError),
     ((2, 2), "twisted", ValueError)],
)  # fmt: skip
def test_lattice_graph_rejects_bad_input(shape, boundary, exc) -> None:
    with pytest.raises(exc, match=r"shape|boundary"):
        lattice_graph(shape, boundary)


@pytest.mark.parametrize(("dilation", "error"),
                         [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError)])
def test_lattice_graph_rejects_bad_dilation(dilation, error) -> None:
    # A wrong value is a ValueError, a wrong type a TypeError, as everywhere in sgnn.
    with pytest.raises(error, match="dilation must be a positive int"):
        lattice_graph((4, 4), dilation=dilation)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, "float32"])
def test_sandpile_to_data_needs_a_floating_dtype(dtype: object) -> None:
    with pytest.raises(TypeError, match=r"dtype must be a floating torch\.dtype"):
        sandpile_to_data(np.zeros((3, 3), dtype=int), dtype=dtype)  # type: ignore[arg-type]


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps"])
def test_lattice_graph_refuses_a_device_this_machine_lacks(device: str) -> None:
    backend = torch.cuda if device.startswith("cuda") else torch.backends.mps
    if backend.is_available():
        pytest.skip(f"{device} exists here")
    with pytest.raises(ValueError, match=r"device is .* not available"):
        lattice_graph((3, 3), device=device)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", 3])
def test_lattice_graph_refuses_a_device_that_is_not_one(device: object) -> None:
    with pytest.raises((TypeError, ValueError), match="device must"):
        lattice_graph((3, 3), device=device)  # type: ignore[arg-type]
