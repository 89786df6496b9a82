"""Relaxation and driving of Bak–Tang–Wiesenfeld sandpiles."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
from tqdm.auto import tqdm

from .._checks import as_generator
from .._memory import check_fits
from .._progress import tqdm_disable
from . import _kernels
from ._checks import check_heights, check_site, check_stable, extended
from .graph import CellLayout, SandpileGraph

__all__ = ["Avalanche", "AvalancheStats", "add_grain", "avalanche_sizes", "drive", "relax"]


@dataclass(frozen=True, eq=False)
class Avalanche:
    """The record of one avalanche, as returned by :func:`add_grain`.

    Attributes:
        site: Where the grain was dropped: ``(i, j)`` on a lattice, a node
            index on a graph.
        size (int): Total number of topplings.
        area (int): Number of distinct sites that toppled.
        duration (int): Number of steps of the synchronous dynamics in which
            every unstable site topples once per step (0 if nothing toppled).
        radius (float): Radius of gyration of the distinct toppled sites,
            :math:`\\sqrt{\\langle |p - \\bar p|^2 \\rangle}` (0 if nothing
            toppled; NaN on a graph without positions).
        lost (int): Grains that left into the sink.
        topplings (numpy.ndarray): Per-site toppling counts, int64, the shape
            of the configuration.
    """

    site: Any
    size: int
    area: int
    duration: int
    radius: float
    lost: int
    topplings: np.ndarray = field(repr=False)


@dataclass(frozen=True, eq=False)
class AvalancheStats:
    """Per-grain avalanche records of :func:`drive`, as equal-length arrays.

    Attributes:
        sites (numpy.ndarray): Flat node index of each drop (``i * W + j`` on a
            lattice), int64.
        size, area, duration, lost (numpy.ndarray): As in :class:`Avalanche`,
            int64.
        radius (numpy.ndarray): As in :class:`Avalanche`, float64.
    """

    sites: np.ndarray
    size: np.ndarray
    area: np.ndarray
    duration: np.ndarray
    radius: np.ndarray
    lost: np.ndarray

    def __len__(self) -> int:
        return int(self.sites.shape[0])


def relax(z: Any, graph: SandpileGraph | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Stabilise a configuration by toppling until every height is below threshold.

    A site :math:`i` with :math:`z_i \ge d_i` (its threshold, 4 on the square
    lattice) topples: :math:`z_i \mathrel{-}= d_i` and every neighbour gains one
    grain; grains sent out of the lattice (into the sink) are lost. By the
    abelian property the result does not depend on the order of topplings, and

    .. math::
        z^{\circ} = z - \Delta\, n,

    where :math:`n` is the vector of toppling counts and :math:`\Delta` the
    reduced Laplacian. Each visit topples a site's whole excess
    :math:`\lfloor z_i / d_i \rfloor` at once, with 64-bit counts, so large
    piles relax quickly. Termination is guaranteed because every node of a
    :class:`SandpileGraph` is connected to the sink.

    Args:
        z (array_like): Non-negative integer heights, shape :math:`(H, W)` on
            the square lattice, or :math:`(n,)` on ``graph``. Not modified.
        graph (SandpileGraph, optional): The graph; the open-boundary square
            lattice of ``z``'s shape if omitted. (default: :obj:`None`)

    Returns:
        (numpy.ndarray, numpy.ndarray): The stable configuration and the
        per-site toppling counts, both int64 with ``z``'s shape.
    """
    arr, graph = check_heights(z, graph)
    if arr.sum(dtype=np.float64) >= 2.0**62:
        # No single height can exceed the total number of grains, so this keeps int64 exact.
        raise ValueError("z holds 2**62 grains or more, beyond what int64 heights can relax")
    ext = extended(arr)
    topplings = np.zeros(graph.num_nodes, dtype=np.int64)
    if not _kernels.relax_kernel(ext, topplings, graph.indptr, graph.indices, graph.threshold):
        raise ValueError(
            f"z needs more than {_kernels.TOPPLING_LIMIT} topplings at one site to relax, "
            "beyond what int64 counts can hold; use fewer grains"
        )
    return ext[:-1].reshape(arr.shape), topplings.reshape(arr.shape)


def add_grain(z: np.ndarray, site: Any, graph: SandpileGraph | None = None) -> Avalanche:
    r"""Add one grain at ``site``, relax, and describe the avalanche.

    The configuration is **updated in place**. The avalanche is run with
    synchronous updates (all unstable sites topple together), which measures
    its duration; its final state and toppling counts equal those of
    :func:`relax` by the abelian property.

    Args:
        z (numpy.ndarray): Stable configuration (heights :math:`0 \le z_i <
            d_i`), a writeable integer array of shape :math:`(H, W)` or
            :math:`(n,)`.
        site: ``(i, j)`` on a 2-D lattice array, else a node index.
        graph (SandpileGraph, optional): As in :func:`relax`.

    Returns:
        Avalanche: size, area, duration, radius, lost and per-site topplings.
    """
    arr, graph = check_heights(z, graph, writeable=True)
    check_stable(arr, graph)
    node = check_site(site, arr, graph)
    cells = graph._cells
    zc = _to_cells(arr, cells)
    topplings = np.zeros(zc.size, dtype=np.int64)
    size, area, duration, radius, lost = _kernels.avalanche_kernel(
        zc, cells.node_cell[node], cells, np.zeros(zc.size, np.int64), np.zeros(1, np.int64),
        np.empty(2 * zc.size, np.int64), np.empty(zc.size, np.int64), topplings, True,
    )  # fmt: skip
    _write_back(z, zc[cells.node_cell].reshape(arr.shape))
    site_out = (int(site[0]), int(site[1])) if arr.ndim == 2 else int(site)
    return Avalanche(
        site=site_out,
        size=int(size),
        area=int(area),
        duration=int(duration),
        radius=float(radius),
        lost=int(lost),
        topplings=topplings[cells.node_cell].reshape(arr.shape),
    )


def drive(
    z: np.ndarray,
    n_grains: int,
    rng: Any = None,
    graph: SandpileGraph | None = None,
    progress: bool | None = None,
) -> AvalancheStats:
    r"""Drop grains one at a time at uniformly random sites and record each avalanche.

    Slow driving: every avalanche ends before the next grain falls. The
    configuration is **updated in place**. Drop sites are drawn with
    ``rng.integers(0, n, size=...)`` in chunks, so the same generator state
    gives the same run.

    Args:
        z (numpy.ndarray): Stable configuration, a writeable integer array.
        n_grains (int): Number of grains to drop, :math:`\ge 0`.
        rng (numpy.random.Generator or int, optional): Generator or seed.
            (default: :obj:`None`, fresh entropy)
        graph (SandpileGraph, optional): As in :func:`relax`.
        progress (bool, optional): ``None`` shows a progress bar on a terminal
            once the run has lasted a second, ``True`` always, ``False`` never.
            (default: :obj:`None`)

    Returns:
        AvalancheStats: One record per grain, in order.
    """
    arr, graph = check_heights(z, graph, writeable=True)
    check_stable(arr, graph)
    if isinstance(n_grains, bool) or not isinstance(n_grains, (int, np.integer)):
        raise TypeError(f"n_grains must be an int, got {n_grains!r}")
    if n_grains < 0:
        raise ValueError(f"n_grains must be non-negative, got {n_grains}")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool or None, got {progress!r}")
    gen = as_generator(rng)
    n_grains = int(n_grains)
    # Six int64/float64 records per grain.
    check_fits(48 * n_grains, "n_grains", f"recording {n_grains} avalanches")
    n = graph.num_nodes
    cells = graph._cells
    zc = _to_cells(arr, cells)
    out = {
        "sites": np.empty(n_grains, np.int64),
        "size": np.empty(n_grains, np.int64),
        "area": np.empty(n_grains, np.int64),
        "duration": np.empty(n_grains, np.int64),
        "radius": np.empty(n_grains, np.float64),
        "lost": np.empty(n_grains, np.int64),
    }
    counter = np.zeros(1, np.int64)
    lattice = graph._lattice
    if lattice:
        # Constant threshold and parked sinks: the specialised kernel (see its docstring).
        toppled = np.zeros(zc.size, np.uint8)
        width = graph.shape[1] + 2
        zc[cells.sink_cells] = _kernels.SINK_PARK
    else:
        toppled = np.zeros(zc.size, np.int64)
    bar = tqdm(
        total=n_grains,
        unit="grain",
        unit_scale=True,
        delay=0.0 if progress else 1.0,
        disable=tqdm_disable(progress),
        leave=False,
    )
    done, chunk = 0, 1024
    with bar:
        while done < n_grains:
            stop = min(n_grains, done + chunk)
            sl = slice(done, stop)
            out["sites"][sl] = gen.integers(0, n, size=stop - done)
            tic = time.perf_counter()
            records = (out["size"][sl], out["area"][sl], out["duration"][sl],
                       out["radius"][sl], out["lost"][sl])  # fmt: skip
            drop = cells.node_cell[out["sites"][sl]]
            if lattice:
                _kernels.lattice_drive_kernel(zc, drop, width, toppled, counter, *records)
            else:
                _kernels.drive_kernel(zc, drop, cells, toppled, counter, *records)
            elapsed = time.perf_counter() - tic
            # Lost grains are counted per avalanche; keep the int32 sink cells from drifting.
            zc[cells.sink_cells] = _kernels.SINK_PARK if lattice else 0
            bar.update(stop - done)
            done = stop
            # Aim for ~0.1 s per chunk: a responsive bar, negligible call overhead.
            chunk = int(min(max(chunk * min(4.0, 0.1 / max(elapsed, 1e-6)), 256), 1 << 20))
    _write_back(z, zc[cells.node_cell].reshape(arr.shape))
    return AvalancheStats(**out)


def avalanche_sizes(
    z: Any,
    graph: SandpileGraph | None = None,
    progress: bool | None = None,
    num_threads: int | None = None,
    sites: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Size and area of the avalanche that one grain at each site would trigger.

    For every site :math:`i` separately, :math:`s_i` is the number of
    topplings after adding a grain at :math:`i` to ``z`` (the configuration
    itself is not changed): the hazard map of a forecaster who asks where one
    more grain would cause a catastrophe. Sites below :math:`d_i - 1` give 0.
    Computed by running every avalanche on a working copy and restoring only
    the cells it changed, so the cost is the total number of topplings. With
    several threads each has its own working copy and an even share of the
    sites; every avalanche depends on ``z`` alone, so the result is the same,
    bit for bit, whatever the number of threads.

    Args:
        z (array_like): Stable configuration, shape :math:`(H, W)` or
            :math:`(n,)`.
        graph (SandpileGraph, optional): As in :func:`relax`.
        progress (bool, optional): ``None`` shows a progress bar on a terminal
            once the run has lasted a second, ``True`` always, ``False`` never.
            (default: :obj:`None`)
        num_threads (int, optional): Threads to run on, at least 1 and at most
            numba's ``NUMBA_NUM_THREADS``; 1 runs in this thread alone.
            (default: :obj:`None`, numba's current number of threads)
        sites (array_like, optional): A bool mask of ``z``'s shape: only the
            avalanches of these sites are run, the others get 0 (a map of a region,
            or a sample of sites whose cost estimates the whole map's).
            (default: :obj:`None`, every site)

    Returns:
        (numpy.ndarray, numpy.ndarray): Sizes and areas, int64, ``z``'s shape.
    """
    arr, graph = check_heights(z, graph)
    check_stable(arr, graph)
    if sites is not None:
        sites = np.asarray(sites)
        if sites.dtype != np.bool_ or sites.shape != arr.shape:
            raise ValueError(f"sites must be a bool mask of shape {arr.shape}, got "
                             f"{sites.dtype} of shape {sites.shape}")  # fmt: skip
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool or None, got {progress!r}")
    threads = _check_num_threads(num_threads)
    cells = graph._cells
    flat = arr.reshape(-1)
    critical = flat == graph.threshold - 1  # only these can topple
    sites = np.flatnonzero(critical if sites is None else critical & sites.reshape(-1))
    size = np.zeros(flat.size, dtype=np.int64)
    area = np.zeros(flat.size, dtype=np.int64)
    if sites.size:
        zc = _to_cells(arr, cells)
        drop = cells.node_cell[sites]
        out_size = np.empty(sites.size, dtype=np.int64)
        out_area = np.empty(sites.size, dtype=np.int64)
        bar = tqdm(
            total=sites.size,
            unit="site",
            unit_scale=True,
            delay=0.0 if progress else 1.0,
            disable=tqdm_disable(progress),
            leave=False,
        )
        # num_threads=1 runs the serial kernel and leaves numba's threading layer alone.
        previous = numba.get_num_threads() if threads > 1 else 1
        if threads != previous:
            numba.set_num_threads(threads)
        try:
            with bar:
                # Without a bar, one call; with one, blocks of ~0.25 s (the kernels restore
                # their working copy after every site, so blocks continue where others ended).
                done, block = 0, sites.size if bar.disable else 64 * threads
                while done < sites.size:
                    sl = slice(done, min(sites.size, done + block))
                    tic = time.perf_counter()
                    if threads == 1:
                        _kernels.every_site_kernel(zc, drop[sl], cells, out_size[sl],
                                                   out_area[sl])  # fmt: skip
                    else:
                        _kernels.every_site_parallel_kernel(zc, drop[sl], cells, out_size[sl],
                                                            out_area[sl], threads)  # fmt: skip
                    elapsed = time.perf_counter() - tic
                    bar.update(sl.stop - done)
                    done = sl.stop
                    block = int(min(max(block * min(4.0, 0.25 / max(elapsed, 1e-6)), 16), 1 << 24))
        finally:
            if threads != previous:
                numba.set_num_threads(previous)
        size[sites], area[sites] = out_size, out_area
    return size.reshape(arr.shape), area.reshape(arr.shape)


def _check_num_threads(num_threads: Any) -> int:
    """The number of threads ``num_threads`` asks for, numba's current one for :obj:`None`."""
    if num_threads is None:
        return numba.get_num_threads()
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)):
        raise TypeError(f"num_threads must be an int or None, got {num_threads!r}")
    if num_threads < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    limit = numba.config.NUMBA_NUM_THREADS
    if num_threads > limit:
        raise ValueError(
            f"num_threads must be at most {limit} (numba's NUMBA_NUM_THREADS), got {num_threads}"
        )
    return int(num_threads)


def _write_back(z: np.ndarray, heights: np.ndarray) -> None:
    """Store new heights in ``z``; refuse, leaving ``z`` as it was, if its dtype is too narrow."""
    limit = np.iinfo(z.dtype).max
    if heights.size and heights.max() > limit:
        raise ValueError(
            f"z has dtype {z.dtype}, which cannot hold the new height {heights.max()}; "
            "use a wider integer dtype"
        )
    z[...] = heights


def _to_cells(arr: np.ndarray, cells: CellLayout) -> np.ndarray:
    """Heights on the kernel's cells (sink cells empty), int32 like the thresholds."""
    zc = np.zeros(cells.threshold.size, dtype=np.int32)
    zc[cells.node_cell] = arr.reshape(-1)
    return zc
