"""Particle graphs against O(N^2) brute force; the particle hierarchy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sgnn.data import particle_hierarchy, particles_to_data


def min_image(d: np.ndarray, box: np.ndarray | None) -> np.ndarray:
    return d if box is None else d - box * np.round(d / box)


def brute_edges(pos: np.ndarray, graph: str, r=None, k=None, box=None):
    n = len(pos)
    disp = min_image(pos[None, :, :] - pos[:, None, :], box)  # disp[j, i] = x_i - x_j
    dist = np.linalg.norm(disp, axis=2)
    if graph == "radius":
        edges = {(j, i) for j in range(n) for i in range(n) if i != j and dist[j, i] <= r}
    elif graph == "knn":
        edges = set()
        for i in range(n):
            others = [j for j in np.argsort(dist[:, i], kind="stable") if j != i][:k]
            edges |= {(j, i) for j in others}
    else:
        edges = {(j, i) for j in range(n) for i in range(n) if i != j}
    return edges, disp, dist


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([1, 2, 3]), st.booleans(),
       st.sampled_from(["radius", "knn", "complete"]))  # fmt: skip
def test_particle_graph_matches_brute_force(seed, dim, periodic, graph) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    box = rng.uniform(2.0, 4.0, size=dim) if periodic else None
    pos = rng.uniform(0, 3, size=(n, dim)) * (1 if box is None else box / 3)
    r, k = 0.8, int(rng.integers(1, n))
    data = particles_to_data(pos, graph=graph, r=r, k=k, box=box, dtype=torch.float64)
    wrapped = pos if box is None else np.mod(pos, box)
    edges, disp, dist = brute_edges(wrapped, graph, r, k, box)
    got = [tuple(e) for e in data.edge_index.t().tolist()]
    assert got == sorted(got) and len(got) == len(set(got))
    assert set(got) == edges
    src, dst = data.edge_index.numpy()
    np.testing.assert_allclose(data.edge_attr[:, :dim].numpy(), disp[src, dst], atol=1e-12)
    np.testing.assert_allclose(data.edge_attr[:, dim].numpy(), dist[src, dst], atol=1e-12)
    np.testing.assert_allclose(data.pos.numpy(), wrapped, atol=1e-12)


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("dim", [2, 3])
def test_particles_exactly_at_distance_r_are_connected(dim: int, periodic: bool) -> None:
    """Integer grid, r = 1: nearest neighbours at exactly r are edges, diagonals are not."""
    side = 4
    pos = np.array(list(itertools.product(range(side), repeat=dim)), dtype=float)
    box = float(side) if periodic else None
    data = particles_to_data(pos, r=1.0, box=box)
    edges, _, _ = brute_edges(pos, "radius", 1.0, box=None if box is None else np.full(dim, box))
    assert {tuple(e) for e in data.edge_index.t().tolist()} == edges
    degree = torch.bincount(data.edge_index[1], minlength=len(pos))
    if periodic:
        assert torch.all(degree == 2 * dim)
    else:
        assert degree.min() == dim and degree.max() == 2 * dim
    assert torch.all(data.edge_attr[:, -1] == 1.0)


def test_features_and_periodic_wrapping() -> None:
    pos = np.array([[0.1, 0.1], [3.9, 0.1], [2.0, 2.0]])
    data = particles_to_data(pos, x=np.eye(3), r=0.5, box=4.0)
    assert data.edge_index.tolist() == [[0, 1], [1, 0]]
    # x_1 - x_0 across the face: the minimum image is -0.2, not 3.8.
    torch.testing.assert_close(data.edge_attr[0], torch.tensor([-0.2, 0.0, 0.2]))
    assert data.edge_attr.dtype == torch.get_default_dtype()
    assert torch.equal(data.x, torch.eye(3, dtype=torch.float64))
    wrapped = particles_to_data(pos - 4.0, r=0.5, box=4.0)
    torch.testing.assert_close(wrapped.pos, data.pos)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [({"pos": [[0.0, np.nan]], "r": 1.0}, ValueError, "pos must be finite"),
     ({"pos": [[0.0, np.inf]], "r": 1.0}, ValueError, "pos must be finite"),
     ({"pos": [0.0, 1.0], "r": 1.0}, ValueError, "pos must have shape"),
     ({"pos": np.zeros((0, 2)), "r": 1.0}, ValueError, "pos must have shape"),
     ({"pos": [["a", "b"]], "r": 1.0}, TypeError, "pos must be a real"),
     ({"pos": np.zeros((3, 2)), "r": 0.0}, ValueError, "r must be"),
     ({"pos": np.zeros((3, 2)), "r": -1.0}, ValueError, "r must be"),
     ({"pos": np.zeros((3, 2))}, ValueError, "r must be"),
     ({"pos": np.zeros((3, 2)), "graph": "knn", "k": 3}, ValueError, "k must satisfy"),
     ({"pos": np.zeros((3, 2)), "graph": "knn", "k": 0}, ValueError, "k must satisfy"),
     ({"pos": np.zeros((3, 2)), "graph": "knn"}, TypeError, "k must be an int"),
     ({"pos": np.zeros((3, 2)), "r": 1.0, "box": 1.5}, ValueError, "box must exceed 2r"),
     ({"pos": np.zeros((3, 2)), "r": 0.1, "box": [1.0, 1.0, 1.0]}, ValueError, "box must be"),
     ({"pos": np.zeros((3, 2)), "r": 0.1, "box": -1.0}, ValueError, "box lengths"),
     ({"pos": np.zeros((3, 2)), "graph": "delaunay"}, ValueError, "graph must be"),
     ({"pos": np.zeros((3, 2)), "r": 0.1, "x": np.zeros((2, 1))}, ValueError, "x must have")],
)  # fmt: skip
def test_particles_to_data_rejects_bad_input(kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match):
        particles_to_data(**kwargs)


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("dim", [2, 3])
def test_particle_hierarchy_by_brute_force(dim: int, periodic: bool) -> None:
    rng = np.random.default_rng(dim)
    box = np.full(dim, 3.0) if periodic else None
    pos = rng.uniform(-1.0 if box is None else 0.0, 3.0, size=(300, dim))
    cell, levels = 0.35, 3
    h = particle_hierarchy(pos, cell, levels, box=box, dtype=torch.float64)
    assert h.num_levels == levels + 1
    member = np.arange(len(pos))
    for level in range(1, levels + 1):
        edge = cell * 2 ** (level - 1)
        member = h.cluster[level - 1].numpy()[member]
        coords = np.floor(pos / edge).astype(int)
        # Same cell <=> same node.
        _, expected = np.unique(coords, axis=0, return_inverse=True)
        assert len(np.unique(expected)) == h.num_nodes(level)
        pairs = set(zip(member.tolist(), expected.reshape(-1).tolist(), strict=True))
        assert len(pairs) == h.num_nodes(level)  # a bijection between nodes and cells
        for node in range(h.num_nodes(level)):
            inside = member == node
            np.testing.assert_allclose(h.pos[level][node].numpy(), pos[inside].mean(0))
            assert int(h.counts[level][node]) == inside.sum()
        # Edges: cells whose coordinates differ by at most 1 in every dimension.
        cell_of = {int(m): coords[np.argmax(member == m)] for m in range(h.num_nodes(level))}
        periods = None if box is None else np.ceil(box / edge - 1e-9)
        got = {tuple(e) for e in h.edge_index[level].t().tolist()}
        for a in range(h.num_nodes(level)):
            for b in range(h.num_nodes(level)):
                if a == b:
                    continue
                d = np.abs(cell_of[a] - cell_of[b])
                if periods is not None:
                    d = np.minimum(d, periods - d)
                assert ((a, b) in got) == bool(np.all(d <= 1)), (level, a, b)
    assert h.edge_index[0].shape == (2, 0) and torch.all(h.counts[0] == 1)


def test_particle_hierarchy_rejects_bad_input() -> None:
    pos = np.zeros((4, 2))
    with pytest.raises(ValueError, match="cell"):
        particle_hierarchy(pos, 0.0, 2)
    with pytest.raises(ValueError, match="levels"):
        particle_hierarchy(pos, 1.0, 0)
    with pytest.raises(ValueError, match="factor"):
        particle_hierarchy(pos, 1.0, 2, factor=1)
    with pytest.raises(ValueError, match="pos must be finite"):
        particle_hierarchy([[np.nan, 0.0]], 1.0, 1)


def test_a_complete_graph_that_cannot_fit_is_refused_up_front() -> None:
    pos = np.zeros((30_000, 3))
    with pytest.raises(ValueError, match=r"graph='complete' on 30000 particles needs about"):
        particles_to_data(pos, graph="complete")
