"""Dhar's exact mean avalanche size, reproduced by driving."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sandpile_reference import dense_laplacian, lattice_laplacian, random_graph
from scipy.sparse.linalg import spsolve

from sgnn.sandpile import (
    SandpileGraph,
    drive,
    expected_avalanche_size,
    height_probabilities,
    sample_recurrent,
)


def dhar_mean_size(graph: SandpileGraph) -> float:
    """(1/N) 1ᵀ Δ⁻¹ 1 with a dense Δ: from the lattice geometry alone on a lattice,
    else entry by entry from the graph's CSR arrays."""
    lap = lattice_laplacian(graph.shape) if graph.shape is not None else dense_laplacian(graph)
    ones = np.ones(graph.num_nodes)
    return float(ones @ np.linalg.solve(lap, ones) / graph.num_nodes)


@pytest.mark.parametrize(("L", "published"), [(16, 11.338), (32, 40.580)])
def test_expected_avalanche_size_is_dhars_formula(L: int, published: float) -> None:
    graph = SandpileGraph.square_lattice((L, L))
    exact = dhar_mean_size(graph)
    assert expected_avalanche_size((L, L)) == pytest.approx(exact, rel=1e-9)
    assert expected_avalanche_size(graph) == pytest.approx(exact, rel=1e-9)
    assert exact == pytest.approx(published, abs=5e-4)


def test_expected_avalanche_size_non_square_and_dissipative() -> None:
    assert expected_avalanche_size((7, 19)) == pytest.approx(
        dhar_mean_size(SandpileGraph.square_lattice((7, 19))), rel=1e-9
    )
    graph, _ = random_graph(4, n=30, dissipative=True)
    assert expected_avalanche_size(graph) == pytest.approx(dhar_mean_size(graph), rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40))
def test_closed_form_on_lattices_equals_a_sparse_solve(h: int, w: int) -> None:
    graph = SandpileGraph.square_lattice((h, w))
    ones = np.ones(graph.num_nodes)
    solved = float(spsolve(graph.to_scipy().tocsc(), ones).mean())
    assert expected_avalanche_size((h, w)) == pytest.approx(solved, rel=1e-10)


def test_large_lattices_need_no_linear_solve() -> None:
    # 3000 x 3000 exhausted SuperLU; the sine-basis sum needs neither the graph nor a solve.
    # The mean size grows like L^2 (Dhar): its ratio over successive doublings tends to 4.
    sizes = [expected_avalanche_size((L, L)) for L in (512, 1024, 2048, 3000)]
    assert sizes[1] / sizes[0] == pytest.approx(4, rel=0.01)
    assert sizes[2] / sizes[1] == pytest.approx(4, rel=0.005)
    assert sizes[3] > sizes[2]


@pytest.mark.parametrize(("L", "grains"), [(16, 200_000), (32, 200_000)])
def test_driven_mean_avalanche_size_matches_dhar(L: int, grains: int) -> None:
    graph = SandpileGraph.square_lattice((L, L))
    exact = dhar_mean_size(graph)
    rng = np.random.default_rng(L)
    z = sample_recurrent((L, L), rng)
    sizes = drive(z, grains, rng, progress=False).size.astype(float)
    # Batch means absorb the correlation between successive avalanches.
    batches = sizes.reshape(100, -1).mean(axis=1)
    se = batches.std(ddof=1) / np.sqrt(batches.size)
    assert abs(sizes.mean() - exact) < 4 * se
    assert se < 0.02 * exact  # the test has power: a 10% bias would fail it


def test_driven_mean_avalanche_size_on_graph_matches_dhar() -> None:
    graph, _ = random_graph(21, n=40)
    exact = dhar_mean_size(graph)
    assert expected_avalanche_size(graph) == pytest.approx(exact, rel=1e-9)
    z = sample_recurrent(graph, 0)
    sizes = drive(z, 100_000, 1, graph=graph, progress=False).size.astype(float)
    batches = sizes.reshape(100, -1).mean(axis=1)
    se = batches.std(ddof=1) / np.sqrt(batches.size)
    assert abs(sizes.mean() - exact) < 4 * se


def test_stationary_loss_balances_input() -> None:
    """In the stationary state every grain dropped is, on average, lost."""
    rng = np.random.default_rng(3)
    z = sample_recurrent((24, 24), rng)
    before = int(z.sum())
    stats = drive(z, 100_000, rng, progress=False)
    assert before + len(stats) - int(stats.lost.sum()) == int(z.sum())
    assert stats.lost.mean() == pytest.approx(1.0, abs=0.05)


def test_height_probabilities_counts() -> None:
    z = np.array([[0, 1, 1], [3, 3, 3]])
    np.testing.assert_allclose(height_probabilities(z), [1 / 6, 2 / 6, 0, 3 / 6])
    graph, _ = random_graph(2, n=10)
    zg = graph.threshold - 1
    p = height_probabilities(zg, graph=graph)
    assert p.shape == (graph.threshold.max(),)
    assert p.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="stable"):
        height_probabilities(np.full((2, 2), 4))
