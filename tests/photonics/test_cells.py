"""Reference cells (rods, veins) and random two-phase cells: exact areas, symmetries,
reproducibility from the seed, the drawn fill fractions and permittivities."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgnn.photonics import random_cells, rod_lattice, vein_lattice

#: The eight symmetries of the square acting on a cell array.
D4 = [
    lambda a: a,
    np.rot90,
    lambda a: np.rot90(a, 2),
    lambda a: np.rot90(a, 3),
    np.transpose,
    lambda a: a[::-1],
    lambda a: a[:, ::-1],
    lambda a: np.rot90(a, 2).T,
]


# ---------------------------------------------------------------- reference cells
@pytest.mark.parametrize("n", [16, 31, 32])
def test_rod_lattice_is_d4_symmetric_with_the_rod_area(n: int) -> None:
    cell = rod_lattice(n, radius=0.3, eps_rod=12.0, eps_background=2.0)
    assert cell.shape == (n, n) and cell.dtype == np.float64
    assert cell.min() >= 2.0 and cell.max() <= 12.0
    for transform in D4:
        np.testing.assert_allclose(transform(cell), cell, rtol=0, atol=1e-13)
    fraction = (cell.mean() - 2.0) / 10.0
    assert fraction == pytest.approx(math.pi * 0.09, abs=2 / n**2)
    assert cell[n // 2, n // 2] == 12.0 and cell[0, 0] == 2.0


def test_rod_lattice_without_supersampling_tests_pixel_centres() -> None:
    cell = rod_lattice(32, supersample=1)
    r = (np.arange(32) + 0.5) / 32
    x, y = np.meshgrid(r, r, indexing="ij")
    want = np.where((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.04, 8.9, 1.0)
    np.testing.assert_array_equal(cell, want)
    # Supersampling only changes the pixels the circle crosses.
    smooth = rod_lattice(32)
    assert set(np.unique(smooth[(smooth != 1.0) & (smooth != 8.9)]).round(12)) != set()
    assert np.array_equal(smooth == 8.9, (smooth == 8.9) & (cell == 8.9))


def test_holes_and_empty_rods() -> None:
    holes = rod_lattice(16, eps_rod=1.0, eps_background=8.9)
    np.testing.assert_allclose(holes, 9.9 - rod_lattice(16), atol=1e-12)
    np.testing.assert_array_equal(rod_lattice(8, radius=0.0), np.ones((8, 8)))


@pytest.mark.parametrize("n", [16, 33])
def test_vein_lattice_area_and_symmetry(n: int) -> None:
    cell = vein_lattice(n, width=0.2, eps_vein=5.0)
    for transform in D4:
        np.testing.assert_allclose(transform(cell), cell, rtol=0, atol=1e-13)
    fraction = (cell.mean() - 1.0) / 4.0
    assert fraction == pytest.approx(2 * 0.2 - 0.2**2, abs=2 / (8 * n))  # a sub-pixel
    assert cell[n // 2, 0] == 5.0 and cell[0, 0] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 3}, ValueError, "n must be an int >= 4"),
        ({"n": 8.0}, TypeError, "n must be an int"),
        ({"n": True}, TypeError, "n must be an int"),
        ({"n": 8, "radius": 0.6}, ValueError, "radius"),
        ({"n": 8, "radius": -0.1}, ValueError, "radius"),
        ({"n": 8, "eps_rod": 0.0}, ValueError, "eps_rod"),
        ({"n": 8, "eps_background": float("nan")}, ValueError, "eps_background"),
        ({"n": 8, "supersample": 0}, ValueError, "supersample"),
        ({"n": 8, "supersample": 65}, ValueError, "supersample"),
        ({"n": 8, "supersample": 2.0}, TypeError, "supersample"),
    ],
)
def test_rod_lattice_refuses_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        rod_lattice(**kwargs)


def test_vein_lattice_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="width"):
        vein_lattice(8, width=1.5)
    with pytest.raises(ValueError, match="eps_vein"):
        vein_lattice(8, eps_vein=-1.0)
    with pytest.raises(ValueError, match="n must"):
        vein_lattice(2)


# ---------------------------------------------------------------- random cells
def check_cells(cells: np.ndarray, num_cells: int, n: int, fill_range: tuple[float, float],
                eps_range: tuple[float, float]) -> None:  # fmt: skip
    assert cells.shape == (num_cells, n, n) and cells.dtype == np.float64
    for cell in cells:
        high = cell.max()
        assert set(np.unique(cell)) <= {1.0, high}
        if high == 1.0:  # eps_high = 1, or no pixel drawn
            assert eps_range[0] == 1.0 or fill_range[0] <= 0.5 / n**2
            continue
        assert eps_range[0] <= high <= eps_range[1]
        fill = (cell == high).mean()  # the drawn fraction, to half a pixel
        assert fill_range[0] - 0.5 / n**2 <= fill <= fill_range[1] + 0.5 / n**2


def test_random_cells_are_reproducible_from_the_seed() -> None:
    a = random_cells(5, n=16, rng=42)
    check_cells(a, 5, 16, (0.2, 0.8), (1.0, 20.0))
    np.testing.assert_array_equal(a, random_cells(5, n=16, rng=42))
    np.testing.assert_array_equal(a, random_cells(5, n=16, rng=np.random.default_rng(42)))
    assert not np.array_equal(a, random_cells(5, n=16, rng=43))
    # A Generator moves on: two calls on one generator give different cells.
    gen = np.random.default_rng(0)
    assert not np.array_equal(random_cells(2, 16, gen), random_cells(2, 16, gen))
    assert random_cells(1, 8).shape == (1, 8, 8)  # rng=None: fresh entropy
    # Distinct cells within a batch, with distinct permittivities and fill fractions.
    highs = a.max(axis=(1, 2))
    fills = (a == highs[:, None, None]).mean(axis=(1, 2))
    assert len(set(highs)) == 5 and len(set(fills.round(6))) > 1


def test_random_cells_fill_is_exact_for_a_fixed_fraction() -> None:
    cells = random_cells(20, n=20, rng=1, fill_range=(0.3, 0.3), eps_range=(6.0, 6.0))
    np.testing.assert_array_equal((cells == 6.0).sum(axis=(1, 2)), np.full(20, 120))


def test_random_cells_are_smooth_level_sets() -> None:
    # A field of Fourier order <= P changes sign along few pixel edges: about 40 + 75 P
    # of the 1024 edges that independent pixels of fill 0.5 would cut on a 32 x 32 cell.
    means = []
    for order in (1, 2, 4):
        cells = random_cells(10, n=32, rng=order, fill_range=(0.5, 0.5), max_order=order)
        high = cells > 1
        edges = (high != np.roll(high, 1, axis=1)).sum(axis=(1, 2))
        edges += (high != np.roll(high, 1, axis=2)).sum(axis=(1, 2))
        assert edges.max() < 100 + 80 * order, (order, edges)
        means.append(edges.mean())
    assert means[0] < means[1] < means[2]  # higher orders give finer features


@settings(max_examples=40, deadline=None)
@given(
    num_cells=st.integers(1, 4),
    n=st.integers(4, 24),
    fill=st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted),
    eps=st.tuples(st.floats(1, 30), st.floats(1, 30)).map(sorted),
    order=st.integers(1, 2),
    seed=st.integers(0, 2**32),
)
def test_random_cells_respect_their_ranges(
    num_cells: int, n: int, fill: list[float], eps: list[float], order: int, seed: int
) -> None:
    cells = random_cells(num_cells, n, seed, tuple(fill), tuple(eps), order)
    check_cells(cells, num_cells, n, tuple(fill), tuple(eps))
    np.testing.assert_array_equal(cells, random_cells(num_cells, n, seed, tuple(fill),
                                                      tuple(eps), order))  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_cells": 0}, ValueError, "num_cells"),
        ({"num_cells": 2.0}, TypeError, "num_cells"),
        ({"n": 3}, ValueError, "n must"),
        ({"rng": -1}, ValueError, "rng"),
        ({"rng": "seed"}, TypeError, "rng"),
        ({"rng": 1.5}, TypeError, "rng"),
        ({"fill_range": (0.6, 0.4)}, ValueError, "fill_range"),
        ({"fill_range": (0.2, 1.1)}, ValueError, "fill_range"),
        ({"fill_range": (-0.1, 0.5)}, ValueError, "fill_range"),
        ({"fill_range": 0.5}, TypeError, "fill_range"),
        ({"fill_range": (0.1, 0.2, 0.3)}, TypeError, "fill_range"),
        ({"fill_range": ("a", 0.2)}, TypeError, "fill_range"),
        ({"eps_range": (0.0, 5.0)}, ValueError, "eps_range"),
        ({"eps_range": (5.0, float("inf"))}, ValueError, "eps_range"),
        ({"eps_range": (5.0, 2.0)}, ValueError, "eps_range"),
        ({"max_order": 0}, ValueError, "max_order"),
        ({"n": 8, "max_order": 5}, ValueError, "max_order"),
    ],
)
def test_random_cells_refuse_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    args = {"num_cells": 1, "n": 8, **kwargs}
    with pytest.raises(error, match=match):
        random_cells(**args)
