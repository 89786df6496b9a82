"""Compile the sandpile kernels once, up front, instead of inside a timed loop."""

from __future__ import annotations

import time

import numpy as np

from . import _kernels, _wave_kernels
from .engine import _to_cells, add_grain, avalanche_sizes, drive, relax
from .exact import identity, is_recurrent, sample_recurrent
from .graph import SandpileGraph
from .waves import avalanche_activity, avalanche_waves, wave_sizes


def compile_kernels() -> float:
    r"""Run every numba kernel of :mod:`sgnn.sandpile` once on a tiny pile.

    The kernels are compiled with ``cache=True``: the first call after an
    install (or an upgrade of numba) compiles them, which takes tens of
    seconds on two cores, and later processes load them from the cache in a
    fraction of a second. Calling this before a timed or progress-reported
    phase (the first training epoch, a benchmark) moves that one-off cost to
    where it is announced. Both the square-lattice and the general-graph
    variants are compiled, and both the serial and the multithreaded kernels of
    :func:`~sgnn.sandpile.avalanche_sizes` and :func:`~sgnn.sandpile.wave_sizes`,
    whatever numba's thread count.

    Returns:
        float: The seconds it took (small once the cache is warm).
    """
    tic = time.perf_counter()
    # A path 0-1-2 whose ends also touch the sink 3: the general-graph kernels.
    path = SandpileGraph.from_csr(np.array([0, 2, 4, 6, 8]), np.array([1, 3, 0, 2, 1, 3, 0, 2]),
                                  sinks=[3])  # fmt: skip
    lattice = sample_recurrent((3, 3), 0)
    for pile, site, graph in ((lattice, (1, 1), None), (np.ones(3, np.int64), 1, path)):
        drive(pile.copy(), 4, 0, graph=graph, progress=False)
        add_grain(pile.copy(), site, graph=graph)
        avalanche_sizes(pile, graph=graph, progress=False, num_threads=1)
        # The parallel kernel too, even where numba has a single thread.
        cells = (graph or SandpileGraph.square_lattice(pile.shape))._cells
        zc = _to_cells(pile, cells)
        sites = cells.node_cell[:2]
        _kernels.every_site_parallel_kernel(zc, sites, cells, np.empty(sites.size, np.int64),
                                            np.empty(sites.size, np.int64), 2)  # fmt: skip
        avalanche_waves(pile, site, graph=graph)
        avalanche_activity(pile, site, graph=graph)
        wave_sizes(pile, graph=graph, num_waves=2, num_threads=1)
        # and its parallel kernel, on the clusters of the pile at d - 1
        threshold = cells.threshold
        label, ptr, members = _wave_kernels.critical_clusters(
            zc, threshold, cells.stencil, cells.indptr, cells.indices)  # fmt: skip
        _wave_kernels.wave_sizes_parallel_kernel(
            zc, threshold, cells.stencil, cells.indptr, cells.indices, label, ptr, members, 2,
            np.zeros((2, zc.size), np.int64), 2)  # fmt: skip
        relax(pile + 4, graph=graph)
    identity((3, 3))
    is_recurrent(lattice)
    return time.perf_counter() - tic
