r"""Band structures of many unit cells at once: in parallel over processes, with a progress
bar and an on-disk cache, the labels of a photonic-crystal dataset."""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .. import __version__
from .._checks import check_int, check_positive_int
from .._io import atomic_write
from .._memory import check_fits
from .._progress import tqdm_disable
from .bands import (
    _check_cell,
    _check_polarization,
    _prepare,
    _resolve_cutoff,
    _solve,
    band_gap,
    k_path,
)

__all__ = ["BandStructures", "band_structures"]

#: Bumped whenever the cached content changes meaning.
_CACHE_VERSION = 1
#: Fewest cells per worker process under num_workers=None (a spawned worker costs ~1 s).
_CELLS_PER_WORKER = 16
#: Chunks per worker: small enough for a smooth progress bar and load balance.
_CHUNKS_PER_WORKER = 4


@dataclass(frozen=True)
class BandStructures:
    r"""Bands and gaps of a batch of unit cells, from :func:`band_structures`.

    Attributes:
        bands (numpy.ndarray): float64 :math:`(N, K, B)`, :math:`\omega a / (2\pi c)` of
            the lowest :math:`B` bands of each cell at each Bloch vector, ascending.
        k_points (numpy.ndarray): float64 :math:`(K, 2)`, the Γ–X–M–Γ path
            (:func:`k_path`).
        gap_ratios (numpy.ndarray): float64 :math:`(N,)`, the gap--midgap ratio between
            bands ``gap_band`` and ``gap_band + 1`` (:func:`band_gap`; 0 without a gap).
        polarization (str): ``"tm"`` or ``"te"``.
        cutoff (float): The plane-wave cutoff used (:func:`photonic_bands`).
        gap_band (int): The lower band of the gap (1-based).
    """

    bands: np.ndarray
    k_points: np.ndarray
    gap_ratios: np.ndarray
    polarization: str
    cutoff: float
    gap_band: int

    def __len__(self) -> int:
        return int(self.bands.shape[0])


def _check_cells(cells: Any) -> np.ndarray:
    arr = np.asarray(cells)
    if arr.ndim != 3:
        if arr.ndim == 2:
            raise ValueError(f"cells must be a stack of unit cells (N, n, n), got shape "
                             f"{arr.shape}; pass cells[None] for one cell")  # fmt: skip
        raise ValueError(f"cells must be a stack of unit cells (N, n, n), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("cells must hold at least one unit cell, got shape (0, ...)")
    _check_cell(arr[0], "cells[0]")  # shape and dtype once, values for all below
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all() or arr.min() <= 0:
        raise ValueError("cells must hold finite, strictly positive permittivities")
    return arr


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cache_key(cells: np.ndarray, **params: Any) -> tuple[str, str]:
    """The digest naming the cache file, and the JSON of every parameter stored in it."""
    meta = json.dumps({"shape": list(cells.shape), "version": _CACHE_VERSION,
                       "sgnn": __version__, **params}, sort_keys=True)  # fmt: skip
    digest = hashlib.sha256(meta.encode())
    digest.update(cells.tobytes())
    return digest.hexdigest()[:32], meta


def _load_cached(path: Path, meta: str, shape: tuple[int, int, int]) -> np.ndarray | None:
    try:
        with np.load(path) as f:
            stored, bands = str(f["meta"]), f["bands"]
    except (OSError, ValueError, KeyError, EOFError) as err:
        warnings.warn(f"band cache {path} is unreadable ({type(err).__name__}); recomputing it",
                      RuntimeWarning, stacklevel=3)  # fmt: skip
        return None
    if stored != meta or bands.shape != shape or bands.dtype != np.float64:
        warnings.warn(f"band cache {path} does not match its parameters; recomputing it",
                      RuntimeWarning, stacklevel=3)  # fmt: skip
        return None
    return bands


def _save(tmp: str, bands: np.ndarray, meta: str) -> None:
    with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a name
        np.savez(f, bands=bands, meta=np.array(meta))


def _chunk_bands(cells: np.ndarray, k_points: np.ndarray, num_bands: int, polarization: str,
                 cutoff: float, limit_threads: bool = False) -> np.ndarray:  # fmt: skip
    """Bands of a chunk of checked cells, ``(len(cells), K, B)``; run in worker processes."""
    if limit_threads:  # one BLAS thread per worker process: the processes are the parallelism
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # optional: without it BLAS keeps its own thread count
            pass
        else:
            with threadpool_limits(1):
                return _chunk_bands(cells, k_points, num_bands, polarization, cutoff)
    return np.stack([_solve(c, k_points, num_bands, polarization, cutoff) for c in cells])


def band_structures(cells: np.ndarray, num_bands: int = 4, polarization: str = "tm",
                    cutoff: float | None = None, points_per_segment: int = 10,
                    gap_band: int = 1, num_workers: int | None = None,
                    progress: bool | None = None,
                    cache: str | os.PathLike[str] | None = None) -> BandStructures:  # fmt: skip
    r"""Bands of every cell on the Γ–X–M–Γ path and the gap--midgap ratio above band
    ``gap_band``: by default the TM gap between bands 1 and 2, the target of the
    data-scarce photonic-crystal benchmarks.

    Each cell is solved by :func:`photonic_bands` (``k_points=k_path(points_per_segment)``),
    exactly as one call would; the result does not depend on ``num_workers``. Cells are
    split into chunks solved in worker processes (started with ``spawn``, one BLAS thread
    each where :mod:`threadpoolctl` is installed), in order; as for any spawned pool, a
    script that uses workers must call it under ``if __name__ == "__main__":``.

    Args:
        cells (numpy.ndarray): :math:`(N, n, n)` unit cells, real, finite, positive, e.g.
            from :func:`random_cells`.
        num_bands (int, optional): Bands per Bloch vector, :math:`\ge` ``gap_band + 1``.
            (default: ``4``)
        polarization (str, optional): ``"tm"`` or ``"te"``. (default: ``"tm"``)
        cutoff (float, optional): Plane-wave cutoff, as in :func:`photonic_bands`.
            (default: :obj:`None`, its default)
        points_per_segment (int, optional): Density of the path, as in :func:`k_path`.
            (default: ``10``, 31 Bloch vectors)
        gap_band (int, optional): Lower band of the gap, 1-based. (default: ``1``)
        num_workers (int, optional): Worker processes; ``0`` solves in this process.
            (default: :obj:`None`, one per available core but at most one per 16 cells,
            in this process for fewer than 32 cells)
        progress (bool, optional): ``None`` shows a progress bar on a terminal, ``True``
            always, ``False`` never. (default: :obj:`None`)
        cache (str, optional): Folder of an atomically written cache,
            ``cache/photonics/bands_<hash>.npz``, keyed by the bytes of ``cells`` and
            every parameter that changes the bands (cutoff, path, bands, polarization, the
            code's version). (default: :obj:`None`, no cache)
    """
    cells = _check_cells(cells)
    num_bands = check_positive_int(num_bands, "num_bands")
    gap_band = int(check_int(gap_band, "gap_band", minimum=1))
    if num_bands < gap_band + 1:
        raise ValueError(f"num_bands must be at least gap_band + 1 = {gap_band + 1}, got "
                         f"{num_bands}")  # fmt: skip
    polarization = _check_polarization(polarization)
    n = cells.shape[1]
    cutoff = _resolve_cutoff(cutoff, n)
    points_per_segment = check_positive_int(points_per_segment, "points_per_segment")
    k_points = k_path(points_per_segment)
    workers = check_int(num_workers, "num_workers", minimum=0, optional=True)
    count = cells.shape[0]
    if workers is None:
        workers = min(_cpu_count(), count // _CELLS_PER_WORKER)
        workers = 0 if workers < 2 else workers
    workers = min(workers, count)
    _prepare(n, cutoff, num_bands, max(workers, 1))
    shape = (count, k_points.shape[0], num_bands)
    check_fits(8 * math.prod(shape), "cells", "the bands")

    path = meta = None
    if cache is not None:
        digest, meta = _cache_key(cells, cutoff=repr(cutoff), num_bands=num_bands,
                                  polarization=polarization,
                                  points_per_segment=points_per_segment)  # fmt: skip
        path = Path(cache) / "photonics" / f"bands_{digest}.npz"
    bands = None if path is None or not path.exists() else _load_cached(path, meta, shape)
    if bands is None:
        bands = _compute(cells, k_points, num_bands, polarization, cutoff, workers, progress)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda tmp: _save(tmp, bands, meta))
    ratios = np.array([band_gap(b, gap_band).ratio for b in bands])
    return BandStructures(bands, k_points, ratios, polarization, cutoff, gap_band)


def _compute(cells: np.ndarray, k_points: np.ndarray, num_bands: int, polarization: str,
             cutoff: float, workers: int, progress: bool | None) -> np.ndarray:  # fmt: skip
    count = cells.shape[0]
    bands = np.empty((count, k_points.shape[0], num_bands))
    bar = tqdm(total=count, desc=f"{polarization.upper()} bands", unit="cell", leave=False,
               disable=tqdm_disable(progress))  # fmt: skip
    with bar:
        if workers == 0:
            for i, cell in enumerate(cells):
                bands[i] = _solve(cell, k_points, num_bands, polarization, cutoff)
                bar.update()
            return bands
        size = max(1, math.ceil(count / (_CHUNKS_PER_WORKER * workers)))
        # spawn, not fork: the caller may hold threads (torch, BLAS) that fork would copy
        # in an undefined state; the workers import numpy, scipy and sgnn.photonics only.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {pool.submit(_chunk_bands, cells[s : s + size], k_points, num_bands,
                                   polarization, cutoff, True): s
                       for s in range(0, count, size)}  # fmt: skip
            for future in as_completed(futures):
                start = futures[future]
                part = future.result()
                bands[start : start + part.shape[0]] = part
                bar.update(part.shape[0])
    return bands
