"""Waves, synchronous activity and the first-wave baseline against brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sandpile_reference import dense_laplacian, neighbours, random_graph

from sgnn.sandpile import (
    AvalancheActivity,
    AvalancheWaves,
    SandpileGraph,
    add_grain,
    avalanche_activity,
    avalanche_waves,
    first_wave,
    sample_recurrent,
)

shapes = st.tuples(st.integers(1, 8), st.integers(1, 8))


def brute_closure(z: np.ndarray, graph: SandpileGraph, site: int) -> dict[int, int]:
    """The wave seeded at ``site`` by literal iteration of
    W_{r+1} = {o} ∪ {i : z_i + |N(i) ∩ W_r| >= d_i}; maps each member to its first round."""
    joined = {site: 0}
    members = {site}
    r = 0
    while True:
        r += 1
        nxt = {site} | {i for i in range(graph.num_nodes)
                        if z[i] + sum(j in members for j in neighbours(graph, i))
                        >= graph.threshold[i]}  # fmt: skip
        for i in nxt - members:
            joined[i] = r
        if nxt == members:
            return joined
        members = nxt


def brute_steps(z: np.ndarray, graph: SandpileGraph, site: int) -> list[list[int]]:
    """Sites toppling at each step of the synchronous dynamics, by the dense Laplacian."""
    lap = dense_laplacian(graph)
    h = z.reshape(-1).astype(np.int64).copy()
    h[site] += 1
    steps = []
    while np.any(h >= graph.threshold):
        active = (h >= graph.threshold).astype(np.int64)
        steps.append(np.flatnonzero(active).tolist())
        h = h - lap @ active
    return steps


def check_waves(z: np.ndarray, graph: SandpileGraph, site: int, waves: AvalancheWaves) -> None:
    """Every wave is the brute-force closure of the heights left by the previous ones."""
    lap = dense_laplacian(graph)
    h = z.reshape(-1).astype(np.int64).copy()
    h[site] += 1
    for k in range(waves.num_waves):
        sites, rounds = waves.wave(k)
        assert sites[0] == site and rounds[0] == 0
        assert np.all(np.diff(rounds) >= 0)  # listed round by round
        assert len(set(sites.tolist())) == sites.size  # at most once per wave
        ref = brute_closure(h, graph, site)
        assert dict(zip(sites.tolist(), rounds.tolist(), strict=True)) == ref
        member = np.zeros_like(h)
        member[sites] = 1
        h = h - lap @ member
        stable = np.flatnonzero(h >= graph.threshold)
        assert set(stable.tolist()) <= {site}  # only the drop site may be unstable
    assert h[site] < graph.threshold[site]  # no further wave


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31), shapes)
def test_waves_and_activity_on_lattices_match_add_grain(seed: int, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(seed)
    # Recurrent piles give long multi-wave avalanches; uniform ones cover the rest.
    z = sample_recurrent(shape, rng) if seed % 2 else rng.integers(0, 4, size=shape)
    site = (int(rng.integers(shape[0])), int(rng.integers(shape[1])))
    graph = SandpileGraph.square_lattice(shape)
    flat = site[0] * shape[1] + site[1]
    before = z.copy()
    waves = avalanche_waves(z, site)
    activity = avalanche_activity(z, site)
    mask = first_wave(z, site)
    np.testing.assert_array_equal(z, before)  # none of them modifies z
    after = z.copy()
    avalanche = add_grain(after, site)
    np.testing.assert_array_equal(waves.counts(), avalanche.topplings)
    np.testing.assert_array_equal(waves.footprint(), avalanche.topplings > 0)
    np.testing.assert_array_equal(activity.counts(), avalanche.topplings)
    assert activity.num_steps == avalanche.duration
    steps = [sorted(activity.step(t).tolist()) for t in range(activity.num_steps)]
    assert steps == brute_steps(z, graph, flat)
    check_waves(z, graph, flat, waves)
    assert waves.num_waves == avalanche.topplings.reshape(-1)[flat]
    expected_first = np.zeros(z.size, dtype=bool)
    if waves.num_waves:
        expected_first[waves.wave(0)[0]] = True
    np.testing.assert_array_equal(mask.reshape(-1), expected_first)
    assert mask.shape == shape and mask.dtype == np.bool_


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.booleans())
def test_waves_on_random_graphs_with_sinks(seed: int, dissipative: bool) -> None:
    graph, _ = random_graph(seed, n=14, dissipative=dissipative)
    rng = np.random.default_rng(seed)
    z = rng.integers(0, graph.threshold)  # a random stable pile
    site = int(rng.integers(graph.num_nodes))
    waves = avalanche_waves(z, site, graph)
    activity = avalanche_activity(z, site, graph)
    avalanche = add_grain(z.copy(), site, graph)
    np.testing.assert_array_equal(waves.counts(), avalanche.topplings)
    np.testing.assert_array_equal(activity.counts(), avalanche.topplings)
    assert activity.num_steps == avalanche.duration
    for t, ref in enumerate(brute_steps(z, graph, site)):
        assert sorted(activity.step(t).tolist()) == ref
    check_waves(z, graph, site, waves)


def test_waves_of_a_full_3x3_by_hand() -> None:
    z = np.full((3, 3), 3)
    waves = avalanche_waves(z, (1, 1))
    # Wave 1: the centre (height 4), then the edges (3 + 1), then the corners (3 + 2):
    # all nine sites. The centre gets 4 grains back and starts wave 2 alone, in which
    # the edges hold 2 + 1 < 4.
    assert waves.num_waves == 2
    sites, rounds = waves.wave(0)
    assert sites[0] == 4 and sorted(sites[1:5].tolist()) == [1, 3, 5, 7]
    assert sorted(sites[5:].tolist()) == [0, 2, 6, 8]
    np.testing.assert_array_equal(rounds, [0, 1, 1, 1, 1, 2, 2, 2, 2])
    np.testing.assert_array_equal(waves.wave(1)[0], [4])
    np.testing.assert_array_equal(waves.wave(-1)[0], [4])
    np.testing.assert_array_equal(waves.num_rounds(), [3, 1])
    np.testing.assert_array_equal(waves.counts(), [[1, 1, 1], [1, 2, 1], [1, 1, 1]])
    np.testing.assert_array_equal(first_wave(z, (1, 1)), np.ones((3, 3), dtype=bool))
    activity = avalanche_activity(z, (1, 1))
    assert isinstance(activity, AvalancheActivity) and activity.num_steps == 3
    assert [sorted(activity.step(t).tolist()) for t in range(3)] == [
        [4], [1, 3, 5, 7], [0, 2, 4, 6, 8]]  # fmt: skip
    np.testing.assert_array_equal(activity.step_sizes(), [1, 4, 5])


def test_no_avalanche_below_threshold() -> None:
    z = np.array([[2, 3], [0, 1]])
    waves = avalanche_waves(z, (0, 0))
    assert waves.num_waves == 0 and waves.sites.size == 0
    assert waves.num_rounds().size == 0
    assert not first_wave(z, (0, 0)).any()
    assert avalanche_activity(z, (0, 0)).num_steps == 0
    assert not waves.footprint().any()


def test_first_wave_lies_inside_the_footprint_and_misses_later_waves(
        rng: np.random.Generator) -> None:  # fmt: skip
    # Find a multi-wave avalanche whose later waves reach sites the first does not.
    for _ in range(200):
        z = sample_recurrent((24, 24), rng)
        site = tuple(int(v) for v in rng.integers(0, 24, size=2))
        waves = avalanche_waves(z, site)
        footprint = waves.footprint()
        mask = first_wave(z, site)
        assert not (mask & ~footprint).any()
        if (footprint & ~mask).any():
            return
    pytest.fail("no avalanche with sites outside its first wave in 200 tries")


def test_bad_arguments() -> None:
    z = np.zeros((3, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="stable"):
        avalanche_waves(np.full((3, 3), 4), (0, 0))
    with pytest.raises(ValueError, match="non-negative"):
        first_wave(-z - 1, (0, 0))
    with pytest.raises(ValueError, match="outside"):
        avalanche_activity(z, (3, 0))
    with pytest.raises(TypeError, match="integer heights"):
        avalanche_waves(z.astype(float), (0, 0))
    with pytest.raises(TypeError, match="pair"):
        avalanche_waves(z, 0)
    waves = avalanche_waves(np.full((2, 2), 3), (0, 0))
    with pytest.raises(IndexError, match="k must lie"):
        waves.wave(waves.num_waves)
    with pytest.raises(TypeError, match="k must be an int"):
        waves.wave(0.5)  # type: ignore[arg-type]
    activity = avalanche_activity(np.full((2, 2), 3), (0, 0))
    with pytest.raises(IndexError, match="t must lie"):
        activity.step(-1)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), shapes)
def test_activity_heights_and_counts_replay_the_dynamics(seed: int, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(seed)
    z = sample_recurrent(shape, rng)
    site = (int(rng.integers(shape[0])), int(rng.integers(shape[1])))
    activity = avalanche_activity(z, site)
    graph = SandpileGraph.square_lattice(shape)
    lap = dense_laplacian(graph)
    h = z.reshape(-1).astype(np.int64)
    h[site[0] * shape[1] + site[1]] += 1
    np.testing.assert_array_equal(activity.heights(0).reshape(-1), h)
    for t in range(activity.num_steps):
        a = np.zeros_like(h)
        a[activity.step(t)] = 1
        np.testing.assert_array_equal(np.flatnonzero(h >= 4), np.sort(activity.step(t)))
        h = h - lap @ a
        np.testing.assert_array_equal(activity.heights(t + 1).reshape(-1), h)
        assert activity.counts(t + 1).sum() == activity.step_ptr[t + 1]
    final = z.copy()
    add_grain(final, site)
    np.testing.assert_array_equal(activity.heights(activity.num_steps), final)
    with pytest.raises(IndexError, match="t must lie"):
        activity.heights(activity.num_steps + 1)
