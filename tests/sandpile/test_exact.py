"""Exact sampling, recurrence and the identity, against enumeration."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from sandpile_reference import dense_laplacian, lattice_laplacian, random_graph
from scipy import stats

from sgnn.sandpile import (
    SandpileGraph,
    height_probabilities,
    identity,
    is_recurrent,
    relax,
    sample_recurrent,
    square_lattice_height_probabilities,
)


def recurrent_by_forbidden_subconfigurations(z: np.ndarray, graph: SandpileGraph) -> bool:
    """Dhar's characterisation, independent of burning: a stable z is recurrent iff
    no non-empty set F of nodes has z_i < (number of edges from i into F) for all i in F."""
    flat = z.reshape(-1)
    n = graph.num_nodes
    nbrs = [graph.indices[graph.indptr[i] : graph.indptr[i + 1]] for i in range(n)]
    for mask in range(1, 1 << n):
        members = [i for i in range(n) if mask >> i & 1]
        if all(flat[i] < sum(1 for j in nbrs[i] if j < n and mask >> j & 1) for i in members):
            return False
    return True


# A small irregular multigraph (a double edge 1-4), used with sink 5 and a dissipative node 3.
IRREGULAR = nx.MultiGraph([(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (1, 4), (1, 4), (4, 5), (0, 5)])


def all_stable(graph: SandpileGraph) -> list[np.ndarray]:
    ranges = [range(int(t)) for t in graph.threshold]
    return [np.array(c, dtype=np.int64) for c in itertools.product(*ranges)]


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (1, 4)])
def test_is_recurrent_agrees_with_enumeration_and_tree_count(shape: tuple[int, int]) -> None:
    graph = SandpileGraph.square_lattice(shape)
    count = 0
    for flat in all_stable(graph):
        z = flat.reshape(shape)
        fast = is_recurrent(z)
        assert fast == recurrent_by_forbidden_subconfigurations(z, graph), z
        count += fast
    trees = round(np.linalg.det(lattice_laplacian(shape)))  # matrix-tree theorem
    assert count == trees
    assert count == {(2, 2): 192, (2, 3): 2415, (1, 4): 209}[shape]


def test_is_recurrent_on_graph_agrees_with_enumeration() -> None:
    graph, _ = random_graph(11, n=8)
    count = sum(
        is_recurrent(z, graph=graph) == recurrent_by_forbidden_subconfigurations(z, graph)
        for z in all_stable(graph)
    )
    assert count == int(np.prod(graph.threshold))
    recurrent = sum(is_recurrent(z, graph=graph) for z in all_stable(graph))
    assert recurrent == round(np.linalg.det(dense_laplacian(graph)))


def test_is_recurrent_on_dissipative_multigraph_agrees_with_enumeration() -> None:
    graph = SandpileGraph.from_networkx(IRREGULAR, sinks=[5], dissipation={3: 1})
    verdicts = [is_recurrent(z, graph=graph) for z in all_stable(graph)]
    expected = [recurrent_by_forbidden_subconfigurations(z, graph) for z in all_stable(graph)]
    assert verdicts == expected
    assert sum(verdicts) == round(np.linalg.det(dense_laplacian(graph)))


def test_unstable_is_not_recurrent() -> None:
    assert not is_recurrent(np.full((3, 3), 4))
    assert is_recurrent(np.full((3, 3), 3))


def _chi_square_uniform(graph: SandpileGraph, samples: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    counts: dict[bytes, int] = {}
    for _ in range(samples):
        z = sample_recurrent(graph, rng)
        assert is_recurrent(z, graph=graph if graph.shape is None else None)
        key = np.asarray(z).tobytes()
        counts[key] = counts.get(key, 0) + 1
    trees = round(np.linalg.det(dense_laplacian(graph)))
    assert len(counts) == trees  # every recurrent configuration appears
    observed = np.array(list(counts.values()))
    return float(stats.chisquare(observed).pvalue)


def test_sample_recurrent_is_uniform_on_2x2() -> None:
    graph = SandpileGraph.square_lattice((2, 2))
    assert _chi_square_uniform(graph, 50_000, 0) > 1e-4


def test_sample_recurrent_is_uniform_on_irregular_graph() -> None:
    graph = SandpileGraph.from_networkx(IRREGULAR, sinks=[5], dissipation={3: 1})
    assert _chi_square_uniform(graph, 30_000, 1) > 1e-4


@pytest.mark.parametrize("shape", [(2, 3), (3, 3), (5, 8), (1, 1), (1, 17), (40, 23)])
def test_sample_recurrent_returns_recurrent(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(2)
    for _ in range(5):
        z = sample_recurrent(shape, rng)
        assert z.shape == shape and z.dtype == np.int64
        assert is_recurrent(z)


def test_sample_recurrent_on_graph_returns_recurrent() -> None:
    graph, _ = random_graph(5, n=30)
    for seed in range(10):
        assert is_recurrent(sample_recurrent(graph, seed), graph=graph)


def test_sample_recurrent_is_deterministic_given_seed() -> None:
    a = sample_recurrent((30, 30), np.random.default_rng(4))
    b = sample_recurrent((30, 30), 4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample_recurrent((30, 30), 5))


def test_height_statistics_match_the_infinite_lattice() -> None:
    """256×256: frequencies within 0.005, mean within 0.01 of 17/8."""
    rng = np.random.default_rng(0)
    samples = [sample_recurrent((256, 256), rng) for _ in range(4)]
    freq = np.mean([height_probabilities(z) for z in samples], axis=0)
    exact = square_lattice_height_probabilities()
    np.testing.assert_allclose(freq, exact, atol=0.005)
    assert abs(np.mean(samples) - 17 / 8) < 0.01
    # Away from the boundary (whose sites are lower on average) the bulk values hold
    # much more tightly: a biased sampler cannot hide behind the boundary effect.
    inner = np.mean([height_probabilities(z[32:-32, 32:-32]) for z in samples], axis=0)
    np.testing.assert_allclose(inner, exact, atol=0.002)


def test_infinite_lattice_probabilities_are_the_published_values() -> None:
    p = square_lattice_height_probabilities()
    np.testing.assert_allclose(p, [0.0736, 0.1739, 0.3063, 0.4462], atol=5e-5)
    assert p.sum() == pytest.approx(1.0)
    assert p @ np.arange(4) == pytest.approx(17 / 8, abs=1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (5, 5), (7, 4), (16, 16)])
def test_identity_is_neutral(shape: tuple[int, int]) -> None:
    e = identity(shape)
    assert e.shape == shape
    assert is_recurrent(e)
    np.testing.assert_array_equal(relax(e + e)[0], e)
    rng = np.random.default_rng(0)
    for _ in range(5):
        z = sample_recurrent(shape, rng)
        np.testing.assert_array_equal(relax(z + e)[0], z)


@pytest.mark.parametrize("dissipative", [False, True])
def test_identity_on_graph_and_its_symmetry(dissipative: bool) -> None:
    graph, _ = random_graph(8, n=20, dissipative=dissipative)
    e = identity(graph)
    assert e.shape == (graph.num_nodes,) and e.dtype == np.int64
    assert is_recurrent(e, graph=graph)
    np.testing.assert_array_equal(relax(e + e, graph=graph)[0], e)
    for seed in range(3):
        z = sample_recurrent(graph, seed)
        np.testing.assert_array_equal(relax(z + e, graph=graph)[0], z)
    sq = identity((32, 32))  # the lattice identity has the lattice's D4 symmetry
    np.testing.assert_array_equal(sq, sq.T)
    np.testing.assert_array_equal(sq, sq[::-1, ::-1])
