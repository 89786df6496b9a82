r"""The inner structure of one avalanche: its waves and its synchronous steps.

These are the algorithms a recurrent network must execute to predict an
avalanche, recorded step by step: :func:`avalanche_waves` (the wave
decomposition of Ivashkevich, Ktitarev and Priezzhev, each wave a monotone
closure), :func:`avalanche_activity` (which sites topple at each step of the
synchronous dynamics), and the parameter-free baseline :func:`first_wave`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from . import _kernels, _wave_kernels
from ._checks import check_heights, check_site, check_stable, extended
from .engine import _check_num_threads, _to_cells
from .graph import SandpileGraph

__all__ = ["AvalancheActivity", "AvalancheWaves", "avalanche_activity", "avalanche_waves",
           "first_wave", "wave_sizes"]  # fmt: skip


@dataclass(frozen=True, eq=False)
class AvalancheWaves:
    r"""The waves of one avalanche, as returned by :func:`avalanche_waves`.

    The nodes of wave :math:`k` are ``sites[wave_ptr[k]:wave_ptr[k + 1]]``,
    listed in the order in which they joined the wave's closure, and
    ``rounds`` holds the closure round at which each joined (0 for the drop
    site, which starts every wave).

    Attributes:
        site: Where the grain was dropped, as given.
        shape (tuple[int, ...]): Shape of the configuration.
        sites (numpy.ndarray): Flat node indices, int64.
        rounds (numpy.ndarray): Closure round of each entry of ``sites``, int64.
        wave_ptr (numpy.ndarray): Wave boundaries, int64, length
            ``num_waves + 1``.
    """

    site: Any
    shape: tuple[int, ...]
    sites: np.ndarray = field(repr=False)
    rounds: np.ndarray = field(repr=False)
    wave_ptr: np.ndarray = field(repr=False)

    @property
    def num_waves(self) -> int:
        """Number of waves: the number of times the drop site topples."""
        return int(self.wave_ptr.shape[0] - 1)

    def wave(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(sites, rounds)`` of wave ``k`` (negative ``k`` counts from the end)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an int, got {k!r}")
        if not -self.num_waves <= k < self.num_waves:
            raise IndexError(f"k must lie in -{self.num_waves}..{self.num_waves - 1}, got {k}")
        k = int(k) % self.num_waves
        part = slice(self.wave_ptr[k], self.wave_ptr[k + 1])
        return self.sites[part], self.rounds[part]

    def num_rounds(self) -> np.ndarray:
        """Closure rounds of every wave (its last round + 1), int64, length ``num_waves``."""
        if self.num_waves == 0:
            return np.zeros(0, dtype=np.int64)
        return np.maximum.reduceat(self.rounds, self.wave_ptr[:-1]) + 1

    def counts(self) -> np.ndarray:
        """Number of waves each site belongs to, int64, the configuration's shape.

        Every site topples once in each of its waves, so these are the
        avalanche's toppling counts.
        """
        total = int(np.prod(self.shape))
        return np.bincount(self.sites, minlength=total).astype(np.int64).reshape(self.shape)

    def footprint(self) -> np.ndarray:
        """The sites that topple (the union of the waves), bool, the configuration's shape."""
        return self.counts() > 0


@dataclass(frozen=True, eq=False)
class AvalancheActivity:
    r"""The sites that topple at each step of the synchronous dynamics.

    In step :math:`t` every unstable site topples once; the sites of step
    :math:`t` are ``sites[step_ptr[t]:step_ptr[t + 1]]``. Starting from the
    heights :math:`h^{(0)} = z + e_o` (the grain dropped on :math:`o`), the
    heights after step :math:`t` are
    :math:`h^{(t+1)} = h^{(t)} - \Delta\, a^{(t)}`, with :math:`a^{(t)}` the
    indicator of the sites toppling at step :math:`t`.

    Attributes:
        site: Where the grain was dropped, as given.
        shape (tuple[int, ...]): Shape of the configuration.
        sites (numpy.ndarray): Flat node indices, int64.
        step_ptr (numpy.ndarray): Step boundaries, int64, length
            ``num_steps + 1``.
        initial (numpy.ndarray): :math:`h^{(0)} = z + e_o`, flat, int64.
        graph (SandpileGraph): The graph the avalanche ran on.
    """

    site: Any
    shape: tuple[int, ...]
    sites: np.ndarray = field(repr=False)
    step_ptr: np.ndarray = field(repr=False)
    initial: np.ndarray = field(repr=False)
    graph: SandpileGraph = field(repr=False)

    @property
    def num_steps(self) -> int:
        """The avalanche's duration: number of steps with at least one toppling."""
        return int(self.step_ptr.shape[0] - 1)

    def step(self, t: int) -> np.ndarray:
        """Flat indices of the sites toppling at step ``t``."""
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
            raise TypeError(f"t must be an int, got {t!r}")
        if not 0 <= t < self.num_steps:
            raise IndexError(f"t must lie in 0..{self.num_steps - 1}, got {t}")
        return self.sites[self.step_ptr[t] : self.step_ptr[t + 1]]

    def step_sizes(self) -> np.ndarray:
        """Number of topplings at every step, int64, length ``num_steps``."""
        return np.diff(self.step_ptr)

    def counts(self, t: int | None = None) -> np.ndarray:
        """Toppling counts of every site after the first ``t`` steps (all steps if
        :obj:`None`), int64, the configuration's shape."""
        t = self.num_steps if t is None else self._check_time(t)
        total = int(np.prod(self.shape))
        done = self.sites[: self.step_ptr[t]]
        return np.bincount(done, minlength=total).astype(np.int64).reshape(self.shape)

    def heights(self, t: int) -> np.ndarray:
        r"""Heights :math:`h^{(t)} = h^{(0)} - \Delta\, n^{(t)}` after ``t`` steps
        (``t = num_steps``: the relaxed configuration), int64, the configuration's shape;
        :math:`n^{(t)}` are the counts after ``t`` steps."""
        n = self.counts(self._check_time(t)).reshape(-1)
        graph = self.graph
        inner = graph.indices < graph.num_nodes
        rows = np.repeat(np.arange(graph.num_nodes), graph.threshold)
        received = np.bincount(graph.indices[inner], weights=n[rows[inner]],
                               minlength=graph.num_nodes).astype(np.int64)  # fmt: skip
        return (self.initial - graph.threshold * n + received).reshape(self.shape)

    def _check_time(self, t: int) -> int:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
            raise TypeError(f"t must be an int, got {t!r}")
        if not 0 <= t <= self.num_steps:
            raise IndexError(f"t must lie in 0..{self.num_steps}, got {t}")
        return int(t)


def _prepare(z: Any, site: Any, graph: SandpileGraph | None) -> tuple[np.ndarray, SandpileGraph,
                                                                       int]:  # fmt: skip
    arr, graph = check_heights(z, graph)
    check_stable(arr, graph)
    node = check_site(site, arr, graph)
    return arr, graph, node


def avalanche_waves(z: Any, site: Any, graph: SandpileGraph | None = None) -> AvalancheWaves:
    r"""Decompose the avalanche of one grain dropped on ``site`` into waves.

    An avalanche started at :math:`o` is a sequence of *waves* (Ivashkevich,
    Ktitarev and Priezzhev 1994): in each wave :math:`o` topples once and
    every other site at most once. With heights :math:`z` at the start of the
    wave (the grain included), the wave :math:`W` is the least fixed point of
    the monotone closure

    .. math::
        W_0 = \{o\}, \qquad
        W_{r+1} = \{o\} \cup \{\, i : z_i + |\mathcal{N}(i) \cap W_r| \ge d_i \,\},

    and site :math:`i` joins at the round :math:`r` at which it first belongs
    to :math:`W_r`. After the wave :math:`z \leftarrow z - \Delta\, 1_W`; all
    sites but :math:`o` are stable again, and another wave follows while
    :math:`o` is not. The union of the waves is the set of sites that
    topple and each site's number of waves is its toppling count (the
    abelian property); :func:`~sgnn.sandpile.add_grain` gives the same
    counts. ``z`` is not modified.

    Args:
        z (array_like): Stable configuration, shape :math:`(H, W)` or
            :math:`(n,)` on ``graph``.
        site: ``(i, j)`` on a 2-D lattice array, else a node index.
        graph (SandpileGraph, optional): The graph; the open square lattice
            of ``z``'s shape if omitted. (default: :obj:`None`)

    Returns:
        AvalancheWaves: the waves, with the closure round of every site.
    """
    arr, graph, node = _prepare(z, site, graph)
    sites, rounds, wave_ptr = _kernels.waves_kernel(
        extended(arr), node, graph.indptr, graph.indices, graph.threshold, -1
    )
    return AvalancheWaves(site=site, shape=arr.shape, sites=sites, rounds=rounds,
                          wave_ptr=wave_ptr)  # fmt: skip


def first_wave(z: Any, site: Any, graph: SandpileGraph | None = None) -> np.ndarray:
    r"""The sites of the first wave of the avalanche started at ``site``: a parameter-free
    estimate of its footprint.

    The least fixed point of the closure of :func:`avalanche_waves`,
    computed once from the heights before the drop. Every site of the first
    wave topples, so this set is contained in the footprint; it misses the
    sites that only later waves reach. Empty when ``site`` is below
    threshold after the drop (nothing topples).

    Args:
        z, site, graph: As in :func:`avalanche_waves`.

    Returns:
        numpy.ndarray: bool mask of ``z``'s shape.
    """
    arr, graph, node = _prepare(z, site, graph)
    sites, _, _ = _kernels.waves_kernel(
        extended(arr), node, graph.indptr, graph.indices, graph.threshold, 1
    )
    mask = np.zeros(arr.size, dtype=bool)
    mask[sites] = True
    return mask.reshape(arr.shape)


def wave_sizes(z: Any, graph: SandpileGraph | None = None, num_waves: int = 1,
               num_threads: int | None = None) -> np.ndarray:  # fmt: skip
    r"""The sizes of the first waves of the avalanche that one grain at each site would
    trigger: the first-wave hazard map, and the second waves beside it.

    For every site :math:`o` separately, entry :math:`k` is the number of sites in
    wave :math:`k + 1` of :func:`avalanche_waves` started at :math:`o` (0 where there
    is no such wave, e.g. below :math:`d_o - 1`). Exact, but much cheaper than
    :func:`~sgnn.sandpile.avalanche_sizes`: the first wave is shared by every site of
    a connected cluster at height :math:`d - 1` (each site of the cluster joins the
    closure of any other, and a closure is the least closed set containing its
    seed), so it is computed once per cluster; after it the heights
    :math:`z - \Delta 1_W` are shared by the cluster's sites too, and the second
    wave once per cluster of those heights at :math:`d - 1`. Clusters whose waves
    are equal share one closure: a cluster inside a computed wave has a wave
    contained in it, and equal to it as soon as its closure reaches a cluster of
    that wave's class, where the closure stops. Later waves would cost as much as
    the whole avalanche, hence ``num_waves`` at most 2. The cost is about the sum
    of the distinct wave sizes, not one closure per site; clusters are shared out
    among threads and the result does not depend on their number.

    Args:
        z (array_like): Stable configuration, shape :math:`(H, W)` or
            :math:`(n,)` on ``graph``.
        graph (SandpileGraph, optional): As in :func:`avalanche_waves`.
        num_waves (int, optional): 1 (the first wave) or 2 (the first two).
            (default: ``1``)
        num_threads (int, optional): As in :func:`~sgnn.sandpile.avalanche_sizes`.
            (default: :obj:`None`, numba's current number of threads)

    Returns:
        numpy.ndarray: int64 sizes, shape ``(num_waves, *z.shape)``.
    """
    arr, graph = check_heights(z, graph)
    check_stable(arr, graph)
    if isinstance(num_waves, bool) or not isinstance(num_waves, (int, np.integer)):
        raise TypeError(f"num_waves must be an int, got {num_waves!r}")
    if num_waves not in (1, 2):
        raise ValueError(f"num_waves must be 1 or 2, got {num_waves}")
    threads = _check_num_threads(num_threads)
    cells = graph._cells
    zc = _to_cells(arr, cells)
    layout = (cells.threshold, cells.stencil, cells.indptr, cells.indices)
    label, ptr, members = _wave_kernels.critical_clusters(zc, *layout)
    sizes = np.zeros((num_waves, zc.size), dtype=np.int64)
    num_clusters = ptr.size - 1
    if threads == 1 or num_clusters < 2:
        _wave_kernels.wave_sizes_kernel(zc, *layout, label, ptr, members, int(num_waves),
                                        sizes)  # fmt: skip
    else:
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            _wave_kernels.wave_sizes_parallel_kernel(zc, *layout, label, ptr, members,
                                                     int(num_waves), sizes, threads)  # fmt: skip
        finally:
            numba.set_num_threads(previous)
    sizes = sizes[:, cells.node_cell]
    return sizes.reshape((num_waves, *arr.shape))


def avalanche_activity(z: Any, site: Any, graph: SandpileGraph | None = None
                       ) -> AvalancheActivity:  # fmt: skip
    r"""Which sites topple at every step of the synchronous dynamics started by one grain.

    The grain is dropped on ``site`` and every unstable site topples once per
    step, as in :func:`~sgnn.sandpile.add_grain` (whose ``duration`` is the
    number of steps). These per-step sets are the supervision of a model that
    learns the update rule one step at a time. ``z`` is not modified.

    Args:
        z, site, graph: As in :func:`avalanche_waves`.

    Returns:
        AvalancheActivity: the toppling sites of every step.
    """
    arr, graph, node = _prepare(z, site, graph)
    initial = arr.reshape(-1).astype(np.int64)
    initial[node] += 1
    sites, step_ptr = _kernels.activity_kernel(
        extended(arr), node, graph.indptr, graph.indices, graph.threshold
    )
    return AvalancheActivity(site=site, shape=arr.shape, sites=sites, step_ptr=step_ptr,
                             initial=initial, graph=graph)  # fmt: skip
