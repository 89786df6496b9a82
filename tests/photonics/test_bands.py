"""The plane-wave band solver against free photons, a slow loop-built reference, the textbook
rod and vein lattices, and the exact symmetries of the eigenproblem."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sgnn._memory
from sgnn.photonics import (
    BandGap,
    band_gap,
    k_path,
    num_plane_waves,
    photonic_bands,
    random_cells,
    rod_lattice,
    vein_lattice,
)

X = (math.pi, 0.0)
M = (math.pi, math.pi)
#: Bloch vectors off every symmetry line, plus the corners of the path.
K_POINTS = np.array([[0.0, 0.0], X, M, [0.7, 0.2], [-1.3, 2.1], [2.9, -0.4]])


def free_photon_bands(k_points: np.ndarray, eps: float, num_bands: int) -> np.ndarray:
    """|k + G| / (2 pi sqrt(eps)), the lowest num_bands over a large box of G."""
    p, q = np.meshgrid(np.arange(-8, 9), np.arange(-8, 9), indexing="ij")
    g = 2 * np.pi * np.stack([p.ravel(), q.ravel()], axis=1)
    norms = np.linalg.norm(k_points[:, None, :] + g[None], axis=2)
    return np.sort(norms, axis=1)[:, :num_bands] / (2 * np.pi * math.sqrt(eps))


def reference_bands(eps: np.ndarray, k_points: np.ndarray, num_bands: int, polarization: str,
                    cutoff: float) -> np.ndarray:  # fmt: skip
    """Loops over plane-wave pairs; the Fourier coefficients by a direct sum over the pixel
    centres, the eigenproblems in scipy's generalised form, nothing shared with sgnn."""
    import scipy.linalg

    n = eps.shape[0]
    r = (np.arange(n) + 0.5) / n
    x, y = np.meshgrid(r, r, indexing="ij")
    waves = [(p, q) for p in range(-10, 11) for q in range(-10, 11) if p * p + q * q <= cutoff**2]
    size = len(waves)
    mat = np.zeros((size, size), dtype=complex)
    for a, (p, q) in enumerate(waves):
        for b, (pp, qq) in enumerate(waves):
            phase = np.exp(-2j * np.pi * ((p - pp) * x + (q - qq) * y))
            mat[a, b] = (eps * phase).sum() / n**2
    out = []
    for k in k_points:
        kg = np.array([[k[0] + 2 * np.pi * p, k[1] + 2 * np.pi * q] for p, q in waves])
        if polarization == "tm":
            lam = scipy.linalg.eigh(np.diag((kg**2).sum(1)), mat, eigvals_only=True)
        else:
            lam = np.linalg.eigvalsh((kg @ kg.T) * np.linalg.inv(mat))
        out.append(np.sqrt(np.clip(np.sort(lam)[:num_bands], 0, None)) / (2 * np.pi))
    return np.array(out)


# ---------------------------------------------------------------- exact solutions, reference
@pytest.mark.parametrize("polarization", ["tm", "te"])
@pytest.mark.parametrize("eps", [1.0, 2.5, 13.0])
def test_homogeneous_medium_gives_free_photon_bands(polarization: str, eps: float) -> None:
    cell = np.full((16, 16), eps)
    bands = photonic_bands(cell, K_POINTS, num_bands=8, polarization=polarization, cutoff=3)
    np.testing.assert_allclose(bands, free_photon_bands(K_POINTS, eps, 8), rtol=0, atol=1e-10)


@pytest.mark.parametrize("polarization", ["tm", "te"])
def test_agrees_with_a_slow_reference_built_by_loops(polarization: str) -> None:
    cell = random_cells(1, n=12, rng=7, eps_range=(4.0, 12.0))[0]
    # With Bloch vectors on both sides of the switch between the TM solvers near Gamma.
    k = np.concatenate([K_POINTS, [[0.05, 0.0], [0.0, -0.0999], [0.1001, 0.0], [0.3, 0.2]]])
    got = photonic_bands(cell, k, num_bands=5, polarization=polarization, cutoff=2.2)
    want = reference_bands(cell, k, 5, polarization, 2.2)
    # Squared: the zero frequency at Gamma is sqrt(round-off) in the reference.
    np.testing.assert_allclose(got**2, want**2, rtol=0, atol=1e-12)


def test_shape_order_and_default_path() -> None:
    cell = random_cells(1, n=16, rng=3)[0]
    bands = photonic_bands(cell, num_bands=5, cutoff=3)
    assert bands.shape == (31, 5) and bands.dtype == np.float64
    assert np.all(np.diff(bands, axis=1) >= 0)
    np.testing.assert_array_equal(bands, photonic_bands(cell, k_path(), num_bands=5, cutoff=3))
    assert bands[0, 0] == 0.0 and bands[-1, 0] == 0.0  # the uniform field at Gamma
    # The default cutoff is 7 where the grid resolves it, else the largest it resolves.
    np.testing.assert_array_equal(bands, photonic_bands(cell, num_bands=5))
    big = np.kron(cell, np.ones((2, 2)))
    np.testing.assert_array_equal(photonic_bands(big, K_POINTS, 3),
                                  photonic_bands(big, K_POINTS, 3, cutoff=7))  # fmt: skip


# ---------------------------------------------------------------- the textbook crystals
def test_rod_lattice_tm_gap_is_the_textbook_31_4_percent() -> None:
    # Joannopoulos et al. (2008), ch. 5: rods r = 0.2a, eps = 8.9, TM gap 1-2, 31.4 %.
    bands = photonic_bands(rod_lattice(32), num_bands=4, cutoff=7)
    gap = band_gap(bands)
    assert 0.309 <= gap.ratio <= 0.319, gap
    # The band edges lie at M (top of band 1) and X (bottom of band 2).
    assert gap.bottom == bands[20, 0] and gap.top == bands[10, 1]
    assert 0.31 < gap.bottom < 0.33 and 0.43 < gap.top < 0.45
    # Without subpixel averaging the staircased rod lands within the tolerance too.
    plain = band_gap(photonic_bands(rod_lattice(32, supersample=1), num_bands=2, cutoff=7))
    assert 0.309 <= plain.ratio <= 0.319, plain


def test_rod_lattice_gap_converges_in_cutoff_and_resolution() -> None:
    corners = np.array([X, M])

    def ratio(n: int, cutoff: float) -> float:
        bands = photonic_bands(rod_lattice(n), corners, num_bands=2, cutoff=cutoff)
        return (bands[0, 1] - bands[1, 0]) / (0.5 * (bands[0, 1] + bands[1, 0]))

    at_32 = [ratio(32, c) for c in (5, 7)]
    at_64 = [ratio(64, c) for c in (7, 10)]
    assert abs(at_32[1] - at_32[0]) < 1e-3  # 0.3131 -> 0.3129
    assert abs(at_64[1] - at_64[0]) < 2e-4  # 0.3138 -> 0.3138
    assert abs(at_64[0] - at_32[1]) < 2e-3  # n = 32 -> 64
    assert all(0.309 <= r <= 0.319 for r in at_32 + at_64)
    assert abs(at_64[1] - 0.314) < 1e-3


def test_rods_have_no_te_gap_and_veins_have_one() -> None:
    # Joannopoulos et al. (2008), ch. 5: isolated high-eps spots favour TM gaps, a connected
    # grid of veins (width 0.165a, eps 8.9) a TE gap between bands 1 and 2.
    rods_te = band_gap(photonic_bands(rod_lattice(32), num_bands=2, polarization="te"))
    assert rods_te.ratio == 0.0 and rods_te.width == 0.0 and rods_te.top < rods_te.bottom
    veins_te = band_gap(photonic_bands(vein_lattice(32), num_bands=2, polarization="te"))
    assert veins_te.ratio > 0.12, veins_te  # 0.166 at n = 32, cutoff 7
    veins_tm = band_gap(photonic_bands(vein_lattice(32), num_bands=2))
    assert veins_tm.ratio < 0.02, veins_tm


# ---------------------------------------------------------------- symmetries
@pytest.mark.parametrize("polarization", ["tm", "te"])
def test_periodic_translations_leave_the_bands_unchanged(polarization: str) -> None:
    rng = np.random.default_rng(0)
    cell = random_cells(1, n=16, rng=rng)[0]
    want = photonic_bands(cell, K_POINTS, 5, polarization, cutoff=3)
    for _ in range(3):
        shift = tuple(int(s) for s in rng.integers(1, 16, size=2))
        got = photonic_bands(np.roll(cell, shift, axis=(0, 1)), K_POINTS, 5, polarization,
                             cutoff=3)  # fmt: skip
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=f"roll by {shift}")


#: An operation on the array and the matching map of Bloch vectors: the transformed
#: cell's bands at k equal the original's at map(k).
D4 = {
    "rot90": (np.rot90, lambda k: np.stack([k[:, 1], -k[:, 0]], axis=1)),
    "rot180": (lambda a: np.rot90(a, 2), lambda k: -k),
    "rot270": (lambda a: np.rot90(a, 3), lambda k: np.stack([-k[:, 1], k[:, 0]], axis=1)),
    "transpose": (np.transpose, lambda k: k[:, ::-1]),
    "flip_x": (lambda a: a[::-1], lambda k: k * [-1, 1]),
    "flip_y": (lambda a: a[:, ::-1], lambda k: k * [1, -1]),
    "anti_transpose": (lambda a: np.rot90(a, 2).T, lambda k: -k[:, ::-1]),
}


@pytest.mark.parametrize("polarization", ["tm", "te"])
@pytest.mark.parametrize("name", sorted(D4))
def test_square_symmetries_map_k_to_its_image(name: str, polarization: str) -> None:
    transform, image = D4[name]
    cell = random_cells(1, n=16, rng=11, max_order=3)[0]
    k = np.array([[0.4, 1.1], [2.0, -0.3], [-1.7, -2.6]])
    got = photonic_bands(transform(cell), k, 5, polarization, cutoff=3)
    want = photonic_bands(cell, image(k), 5, polarization, cutoff=3)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=name)
    # ... and not at k itself (the cell has no symmetry): the test can fail.
    if name not in ("rot180",):  # time reversal makes omega(-k) = omega(k)
        assert not np.allclose(got, photonic_bands(cell, k, 5, polarization, cutoff=3),
                               atol=1e-6)  # fmt: skip


def test_a_symmetric_cell_has_the_same_bands_after_every_square_symmetry() -> None:
    cell = random_cells(1, n=16, rng=5)[0]
    symmetric = (cell + sum(transform(cell) for transform, _ in D4.values())) / 8
    for name, (transform, _) in D4.items():
        np.testing.assert_allclose(transform(symmetric), symmetric, atol=1e-14, err_msg=name)
    want = photonic_bands(symmetric, num_bands=4, cutoff=3)
    for name, (transform, _) in D4.items():
        got = photonic_bands(transform(symmetric), num_bands=4, cutoff=3)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=name)
        assert band_gap(got, 2).ratio == pytest.approx(band_gap(want, 2).ratio, abs=1e-9)


@pytest.mark.parametrize("polarization", ["tm", "te"])
def test_scaling_eps_scales_frequencies(polarization: str) -> None:
    cell = random_cells(1, n=16, rng=2)[0]
    want = photonic_bands(cell, K_POINTS, 5, polarization, cutoff=3)
    for s in (0.25, 2.7, 40.0):
        got = photonic_bands(s * cell, K_POINTS, 5, polarization, cutoff=3)
        np.testing.assert_allclose(got, want / math.sqrt(s), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- helpers
def test_k_path_visits_gamma_x_m_gamma_once_each() -> None:
    path = k_path(10)
    assert path.shape == (31, 2)
    np.testing.assert_allclose(path[[0, 10, 20, 30]], [[0, 0], X, M, [0, 0]], atol=1e-15)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert steps.min() > 0.3  # no corner repeated
    np.testing.assert_allclose(steps[:20], math.pi / 10)
    np.testing.assert_allclose(steps[20:], math.pi * math.sqrt(2) / 10)
    assert k_path(1).shape == (4, 2)


def test_num_plane_waves_counts_the_disk() -> None:
    for cutoff, count in ((0, 1), (1, 5), (1.5, 9), (5, 81), (7, 149), (10, 317)):
        p, q = np.meshgrid(np.arange(-11, 12), np.arange(-11, 12))
        assert num_plane_waves(cutoff) == count == int((p**2 + q**2 <= cutoff**2).sum())
    with pytest.raises(ValueError, match="cutoff"):
        num_plane_waves(-1.0)
    with pytest.raises(ValueError, match="cutoff"):
        num_plane_waves(1e4)


def test_band_gap_of_hand_made_bands() -> None:
    bands = np.array([[0.0, 0.5, 0.6], [0.3, 0.4, 0.9], [0.2, 0.45, 0.7]])
    gap = band_gap(bands)
    assert gap == BandGap(bottom=0.3, top=0.4, width=pytest.approx(0.1),
                          ratio=pytest.approx(0.1 / 0.35))  # fmt: skip
    overlap = band_gap(bands, band=2)  # band 2 reaches 0.5, band 3 starts at 0.6
    assert overlap.ratio == pytest.approx(0.1 / 0.55)
    closed = band_gap(np.array([[0.1, 0.3], [0.4, 0.5]]))
    assert closed == BandGap(0.4, 0.3, 0.0, 0.0)
    with pytest.raises(ValueError, match="B >= band \\+ 1"):
        band_gap(bands, band=3)
    with pytest.raises(ValueError, match="band"):
        band_gap(bands, band=0)
    with pytest.raises(TypeError, match="band"):
        band_gap(bands, band=1.0)
    with pytest.raises(ValueError, match="bands"):
        band_gap(np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="finite"):
        band_gap(np.array([[0.1, np.nan]]))
    with pytest.raises(TypeError, match="bands"):
        band_gap(np.array([[0.1, 0.2j]]))


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("eps", "error", "match"),
    [
        (np.ones((8, 9)), ValueError, "eps must be a square 2-D array"),
        (np.ones((8, 8, 8)), ValueError, "eps must be a square 2-D array"),
        (np.ones(8), ValueError, "eps must be a square 2-D array"),
        (np.ones((3, 3)), ValueError, "eps must be at least 4x4"),
        (np.full((8, 8), np.nan), ValueError, "eps must hold finite"),
        (np.full((8, 8), np.inf), ValueError, "eps must hold finite"),
        (np.zeros((8, 8)), ValueError, "eps must hold strictly positive"),
        (-np.ones((8, 8)), ValueError, "eps must hold strictly positive"),
        (np.ones((8, 8), dtype=complex), TypeError, "eps must be a real array"),
        (np.full((8, 8), "a"), TypeError, "eps must be a real array"),
        (np.ones((8, 8), dtype=bool), TypeError, "eps must be a real array"),
        (None, TypeError, "eps must be a real array"),
    ],
)
def test_bad_cells_are_refused(eps: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        photonic_bands(eps, num_bands=1, cutoff=0)


def test_integer_cells_are_accepted() -> None:
    cell = np.ones((8, 8), dtype=np.int64)
    want = photonic_bands(cell.astype(float), K_POINTS, 2, cutoff=1)
    np.testing.assert_array_equal(photonic_bands(cell, K_POINTS, 2, cutoff=1), want)


def test_bad_arguments_are_refused() -> None:
    cell = np.ones((16, 16))
    with pytest.raises(ValueError, match="k_points"):
        photonic_bands(cell, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="k_points"):
        photonic_bands(cell, [[0.0, np.nan]])
    with pytest.raises(TypeError, match="k_points"):
        photonic_bands(cell, np.zeros((3, 2), dtype=complex))
    with pytest.raises(ValueError, match="polarization"):
        photonic_bands(cell, polarization="tem")
    with pytest.raises(TypeError, match="polarization"):
        photonic_bands(cell, polarization=1)
    with pytest.raises(ValueError, match="num_bands"):
        photonic_bands(cell, num_bands=0)
    with pytest.raises(TypeError, match="num_bands"):
        photonic_bands(cell, num_bands=2.0)
    with pytest.raises(ValueError, match="num_bands=10 exceeds the 9 plane waves"):
        photonic_bands(cell, num_bands=10, cutoff=1.5)
    with pytest.raises(ValueError, match="cutoff"):
        photonic_bands(cell, cutoff=-1)
    with pytest.raises(TypeError, match="cutoff"):
        photonic_bands(cell, cutoff="7")


def test_a_cutoff_the_grid_cannot_resolve_is_refused() -> None:
    cell = np.ones((32, 32))
    photonic_bands(cell, K_POINTS[:1], 1, cutoff=7.99)  # |p| <= 7: 4 * 7 + 1 <= 32
    with pytest.raises(ValueError, match=r"cutoff=8\.0 .* 32x32 grid .* cutoff < 8"):
        photonic_bands(cell, K_POINTS[:1], 1, cutoff=8.0)
    with pytest.raises(ValueError, match="cutoff"):
        photonic_bands(np.ones((4, 4)), K_POINTS[:1], 1, cutoff=1)
    assert photonic_bands(np.ones((4, 4)), K_POINTS[:1], 1).shape == (1, 1)  # cutoff 0


def test_a_cutoff_too_large_for_memory_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # 204 000 plane waves: petabytes, on any machine; refused before any allocation.
    with pytest.raises(ValueError, match=r"cutoff: .* GiB"):
        photonic_bands(np.ones((1024, 1024)), K_POINTS[:1], 1, cutoff=255)
    monkeypatch.setattr(sgnn._memory, "physical_memory", lambda: 2**20)
    with pytest.raises(ValueError, match="cutoff: the plane-wave matrices of 149 plane waves"):
        photonic_bands(np.ones((32, 32)), K_POINTS[:1], 1, cutoff=7)


def test_import_loads_neither_torch_nor_numba() -> None:
    import subprocess
    import sys

    code = "import sgnn.photonics, sys; print(*sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)  # fmt: skip
    modules = set(done.stdout.split())
    assert "sgnn.photonics.bands" in modules
    assert not {"torch", "numba"} & modules
    assert not any(m.startswith("sgnn.sandpile") for m in modules)
