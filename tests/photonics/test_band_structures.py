"""Batches of band structures: equal to single calls, the same in worker processes, and
cached under a key that changes with every parameter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sgnn.photonics.dataset as dataset
from sgnn.photonics import (
    BandStructures,
    band_gap,
    band_structures,
    k_path,
    photonic_bands,
    random_cells,
    rod_lattice,
)

#: Four random cells and the rod lattice, which has a TM gap.
CELLS = np.concatenate([random_cells(4, n=16, rng=2024), rod_lattice(16)[None]])
ARGS = {"num_bands": 3, "cutoff": 3.0, "points_per_segment": 3, "progress": False}


def test_batch_equals_single_calls() -> None:
    result = band_structures(CELLS, num_workers=0, **ARGS)
    assert isinstance(result, BandStructures) and len(result) == 5
    assert result.bands.shape == (5, 10, 3) and result.gap_ratios.shape == (5,)
    assert (result.polarization, result.cutoff, result.gap_band) == ("tm", 3.0, 1)
    np.testing.assert_array_equal(result.k_points, k_path(3))
    for cell, bands, ratio in zip(CELLS, result.bands, result.gap_ratios, strict=True):
        single = photonic_bands(cell, k_path(3), num_bands=3, cutoff=3.0)
        np.testing.assert_array_equal(bands, single)
        assert ratio == band_gap(single).ratio
    assert result.gap_ratios[4] > 0.25  # the rods' TM gap
    te = band_structures(CELLS[:2], polarization="TE", gap_band=2, num_workers=0, **ARGS)
    assert te.polarization == "te" and te.gap_band == 2
    np.testing.assert_array_equal(
        te.bands[1], photonic_bands(CELLS[1], k_path(3), 3, "te", cutoff=3.0)
    )
    assert te.gap_ratios[1] == band_gap(te.bands[1], 2).ratio


def test_worker_processes_give_the_same_bands() -> None:
    serial = band_structures(CELLS, num_workers=0, **ARGS)
    parallel = band_structures(CELLS, num_workers=2, **ARGS)
    np.testing.assert_allclose(parallel.bands, serial.bands, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(parallel.gap_ratios, serial.gap_ratios, rtol=1e-10, atol=1e-12)


def test_default_cutoff_is_the_single_calls_default() -> None:
    result = band_structures(CELLS[:1], num_bands=2, points_per_segment=2, progress=False)
    assert result.cutoff == 3.0  # the largest a 16-pixel grid resolves
    np.testing.assert_array_equal(result.bands[0], photonic_bands(CELLS[0], k_path(2), 2))


def test_cache_returns_identical_results_and_is_keyed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = band_structures(CELLS, num_workers=0, cache=tmp_path, **ARGS)
    files = list((tmp_path / "photonics").glob("bands_*.npz"))
    assert len(files) == 1 and not list((tmp_path / "photonics").glob("*.tmp*"))

    calls = []
    compute = dataset._compute

    def counting(*args: object) -> np.ndarray:
        calls.append(1)
        return compute(*args)

    monkeypatch.setattr(dataset, "_compute", counting)
    again = band_structures(CELLS, num_workers=0, cache=tmp_path, **ARGS)
    assert calls == []
    np.testing.assert_array_equal(again.bands, first.bands)
    np.testing.assert_array_equal(again.gap_ratios, first.gap_ratios)
    # The gap band is derived from the cached bands, not part of the key.
    assert band_structures(CELLS, num_workers=0, cache=tmp_path, **{**ARGS, "num_bands": 3},
                           gap_band=2).gap_ratios.shape == (5,)  # fmt: skip
    assert calls == []

    changed = CELLS.copy()
    changed[0, 0, 0] += 1e-9
    variants = [
        ({}, changed),
        ({"cutoff": 2.5}, CELLS),
        ({"num_bands": 4}, CELLS),
        ({"points_per_segment": 4}, CELLS),
        ({"polarization": "te"}, CELLS),
    ]
    for k, (change, cells) in enumerate(variants, start=1):
        result = band_structures(cells, num_workers=0, cache=tmp_path, **{**ARGS, **change})
        assert len(calls) == k, change
        assert len(list((tmp_path / "photonics").glob("bands_*.npz"))) == 1 + k
        if not change:
            assert not np.array_equal(result.bands, first.bands)
    monkeypatch.setattr(dataset, "_CACHE_VERSION", dataset._CACHE_VERSION + 1)
    band_structures(CELLS, num_workers=0, cache=tmp_path, **ARGS)
    assert len(calls) == len(variants) + 1


def test_an_unreadable_cache_is_recomputed(tmp_path: Path) -> None:
    first = band_structures(CELLS[:2], num_workers=0, cache=tmp_path, **ARGS)
    (path,) = (tmp_path / "photonics").glob("bands_*.npz")
    path.write_bytes(b"not an npz file")
    with pytest.warns(RuntimeWarning, match="unreadable"):
        again = band_structures(CELLS[:2], num_workers=0, cache=tmp_path, **ARGS)
    np.testing.assert_array_equal(again.bands, first.bands)
    with np.load(path) as f:  # rewritten
        np.testing.assert_array_equal(f["bands"], first.bands)


def test_bad_batches_are_refused() -> None:
    with pytest.raises(ValueError, match=r"cells\[None\]"):
        band_structures(CELLS[0])
    with pytest.raises(ValueError, match="cells must hold at least one"):
        band_structures(CELLS[:0])
    with pytest.raises(ValueError, match="cells must hold finite"):
        band_structures(np.concatenate([CELLS[:1], -CELLS[:1]]))
    with pytest.raises(ValueError, match=r"cells\[0\] must be a square"):
        band_structures(np.ones((2, 8, 9)))
    with pytest.raises(TypeError, match=r"cells\[0\] must be a real array"):
        band_structures(np.ones((2, 8, 8), dtype=complex))
    with pytest.raises(ValueError, match="num_bands must be at least gap_band"):
        band_structures(CELLS, num_bands=2, gap_band=2)
    with pytest.raises(ValueError, match="num_workers"):
        band_structures(CELLS, num_workers=-1)
    with pytest.raises(ValueError, match="points_per_segment"):
        band_structures(CELLS, points_per_segment=0)
    with pytest.raises(ValueError, match="cutoff"):
        band_structures(CELLS, cutoff=4)  # 16 pixels resolve |p| <= 3
    with pytest.raises(ValueError, match="polarization"):
        band_structures(CELLS, polarization="x")


def test_progress_bar_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    band_structures(CELLS[:2], num_workers=0, **{**ARGS, "progress": True})
    captured = capsys.readouterr()
    assert "TM bands" in captured.err and captured.out == ""
