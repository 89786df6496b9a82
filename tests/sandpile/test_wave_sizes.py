"""Wave sizes of every site at once, against one avalanche_waves call per site."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sandpile_reference import random_graph

from sgnn.sandpile import SandpileGraph, avalanche_waves, sample_recurrent, wave_sizes


def site_by_site(z: np.ndarray, graph: SandpileGraph | None, num_waves: int) -> np.ndarray:
    """Wave sizes from one decomposition per site (the definition)."""
    flat = z.reshape(-1)
    out = np.zeros((num_waves, flat.size), dtype=np.int64)
    for s in range(flat.size):
        site = divmod(s, z.shape[1]) if graph is None else s
        waves = avalanche_waves(z, site, graph)
        for k in range(min(num_waves, waves.num_waves)):
            out[k, s] = waves.wave(k)[0].size
    return out.reshape((num_waves, *z.shape))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.tuples(st.integers(1, 12), st.integers(1, 12)),
       st.booleans())  # fmt: skip
def test_wave_sizes_on_lattices_match_the_waves_site_by_site(
    seed: int, shape: tuple[int, int], recurrent: bool
) -> None:
    rng = np.random.default_rng(seed)
    # recurrent piles have large clusters at height 3 and multi-wave avalanches
    z = sample_recurrent(shape, rng) if recurrent else rng.integers(0, 4, size=shape)
    np.testing.assert_array_equal(wave_sizes(z, num_waves=2), site_by_site(z, None, 2))
    np.testing.assert_array_equal(wave_sizes(z, num_waves=1), site_by_site(z, None, 1))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.booleans())
def test_wave_sizes_on_random_graphs_with_sinks(seed: int, dissipative: bool) -> None:
    graph, _ = random_graph(seed, n=14, dissipative=dissipative)
    rng = np.random.default_rng(seed)
    # mostly at d - 1, so that clusters form
    z = np.maximum(rng.integers(0, graph.threshold),
                   graph.threshold - 1 - rng.integers(0, 2, graph.num_nodes))
    np.testing.assert_array_equal(wave_sizes(z, graph, num_waves=2), site_by_site(z, graph, 2))


def test_wave_sizes_are_the_same_on_any_number_of_threads() -> None:
    z = sample_recurrent((48, 48), np.random.default_rng(3))
    serial = wave_sizes(z, num_waves=2, num_threads=1)
    # NUMBA_NUM_THREADS=1 in the environment caps numba at one thread
    threads = min(2, numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(wave_sizes(z, num_waves=2, num_threads=threads), serial)
    assert serial.shape == (2, 48, 48) and serial.dtype == np.int64
    # one shared first wave per cluster at height 3, and some second waves
    assert np.all((serial[0] > 0) == (z == 3)) and np.any(serial[1] > 0)


def test_wave_sizes_by_hand() -> None:
    # a full 3x3 pile: the centre's first wave covers the lattice, its second the centre
    z = np.full((3, 3), 3)
    sizes = wave_sizes(z, num_waves=2)
    np.testing.assert_array_equal(sizes[0], np.full((3, 3), 9))
    assert sizes[1, 1, 1] == 1 and sizes[1].sum() == 1
    # nothing at height 3, nothing topples
    assert not wave_sizes(np.full((4, 5), 2)).any()


def test_wave_sizes_bad_arguments() -> None:
    z = np.full((3, 3), 3)
    with pytest.raises(ValueError, match="num_waves must be 1 or 2"):
        wave_sizes(z, num_waves=3)
    with pytest.raises(TypeError, match="num_waves must be an int"):
        wave_sizes(z, num_waves=1.0)
    with pytest.raises(ValueError, match="num_threads"):
        wave_sizes(z, num_threads=0)
    with pytest.raises(ValueError, match="stable"):
        wave_sizes(np.full((3, 3), 4))
    with pytest.raises(ValueError):
        wave_sizes(np.full((3, 3), -1))
