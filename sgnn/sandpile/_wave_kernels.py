"""Numba kernels of the wave sizes of every site at once (:func:`~sgnn.sandpile.wave_sizes`).

They work on the cell layout of the avalanche kernel (``SandpileGraph._cells``): a
lattice padded by sink cells, whose neighbours are ``i + stencil``, or CSR over cells
(``stencil`` empty). Sink cells have an unreachable threshold, so they never join a
wave and need no test.

The first wave started at a site :math:`o` at height :math:`d_o - 1` is the
closure of :func:`~sgnn.sandpile.avalanche_waves`. It is the same for every site of
the connected cluster of sites at height :math:`d - 1` that holds :math:`o`: each of
them joins the closure of any other (one toppled neighbour lifts it to threshold), and
a closure is the least closed set containing its seed. So one closure per cluster
gives the first wave of all its sites. After that wave the heights are
:math:`z'' = z - \\Delta 1_W` (the grain excluded), the same for every origin in the
cluster; an origin :math:`o` starts a second wave exactly when :math:`z''_o = d_o - 1`,
and by the same argument that wave is shared by the cluster of :math:`z''` at height
:math:`d - 1` that holds :math:`o`.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = {"cache": True, "nogil": True, "boundscheck": False}

# A cell's closure state in one int64: the closure's stamp (high 32 bits), whether the
# cell joined (bit 31) and its number of joined neighbours (low 31 bits). One array read
# per visit, and scratch arrays are reused across closures without clearing: a state
# whose stamp is not the current closure's counts as empty.
_SHIFT = 32
_JOINED = 1 << 31
_COUNT = _JOINED - 1


@numba.njit(inline="always", **_JIT)
def _num_neighbours(i: int, stencil: np.ndarray, indptr: np.ndarray) -> int:
    return stencil.shape[0] if stencil.shape[0] > 0 else indptr[i + 1] - indptr[i]


@numba.njit(inline="always", **_JIT)
def _neighbour(i: int, k: int, stencil: np.ndarray, indptr: np.ndarray,
               indices: np.ndarray) -> int:  # fmt: skip
    return i + stencil[k] if stencil.shape[0] > 0 else indices[indptr[i] + k]


@numba.njit(**_JIT)
def critical_clusters(
    z: np.ndarray, threshold: np.ndarray, stencil: np.ndarray, indptr: np.ndarray,
    indices: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Connected clusters of the cells at height ``threshold - 1``.

    Returns ``(label, ptr, members)``: the cluster of every cell (-1 for the others),
    and the cells of cluster ``c`` as ``members[ptr[c]:ptr[c + 1]]``.
    """
    m = z.shape[0]
    label = np.full(m, -1, dtype=np.int64)
    members = np.empty(m, dtype=np.int64)
    ptr = np.zeros(m + 1, dtype=np.int64)
    count = 0
    num_clusters = 0
    for s in range(m):
        if z[s] != threshold[s] - 1 or label[s] >= 0:
            continue
        label[s] = num_clusters
        head = count
        members[count] = s
        count += 1
        while head < count:
            i = members[head]
            head += 1
            for k in range(_num_neighbours(i, stencil, indptr)):
                j = _neighbour(i, k, stencil, indptr, indices)
                if label[j] < 0 and z[j] == threshold[j] - 1:
                    label[j] = num_clusters
                    members[count] = j
                    count += 1
        num_clusters += 1
        ptr[num_clusters] = count
    return label, ptr[: num_clusters + 1].copy(), members[:count].copy()


@numba.njit(inline="always", **_JIT)
def _height(z: np.ndarray, threshold: np.ndarray, wave: np.ndarray, wave_stamp: int,
            j: int) -> int:  # fmt: skip
    """Height of ``j`` after the wave recorded in ``wave`` under ``wave_stamp`` toppled
    (``z[j]`` if ``j`` took no part in it)."""
    s = wave[j]
    if (s >> _SHIFT) != wave_stamp:
        return z[j]
    return z[j] + (s & _COUNT) - (threshold[j] if s & _JOINED else 0)


@numba.njit(**_JIT)
def _closure(z: np.ndarray, threshold: np.ndarray, wave: np.ndarray, wave_stamp: int,
             seeds: np.ndarray, stencil: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
             stamp: int, state: np.ndarray, queue: np.ndarray) -> int:  # fmt: skip
    """The closure of ``seeds`` (all topple; a cell joins when its height plus its number
    of joined neighbours reaches its threshold) on the heights left by the wave in
    ``wave`` under ``wave_stamp`` (-2: on ``z``), as ``queue[:size]``; returns ``size``.

    Records in ``state`` under the new ``stamp`` which cells joined and how many of
    every cell's neighbours did (joined or not), for :func:`_height`.
    """
    size = 0
    base = stamp << _SHIFT
    for a in range(seeds.shape[0]):
        state[seeds[a]] = base | _JOINED
        queue[size] = seeds[a]
        size += 1
    head = 0
    while head < size:
        i = queue[head]
        head += 1
        for k in range(_num_neighbours(i, stencil, indptr)):
            j = _neighbour(i, k, stencil, indptr, indices)
            s = state[j]
            if (s >> _SHIFT) != stamp:
                s = base
            s += 1
            if not s & _JOINED and (_height(z, threshold, wave, wave_stamp, j) + (s & _COUNT)
                                    >= threshold[j]):  # fmt: skip
                s |= _JOINED
                queue[size] = j
                size += 1
            state[j] = s
    return size


@numba.njit(**_JIT)
def wave_sizes_kernel(z: np.ndarray, threshold: np.ndarray, stencil: np.ndarray,
                      indptr: np.ndarray, indices: np.ndarray, label: np.ndarray,
                      ptr: np.ndarray, members: np.ndarray, clusters: np.ndarray,
                      num_waves: int, sizes: np.ndarray) -> None:  # fmt: skip
    """Sizes of the first ``num_waves`` (1 or 2) waves of every cell of ``clusters``.

    Writes ``sizes[k, i]`` for every cell ``i`` of those clusters, and nothing else,
    so that kernels given disjoint clusters may share ``sizes``.
    """
    m = z.shape[0]
    state = np.full(m, -1, dtype=np.int64)
    queue = np.empty(m, dtype=np.int64)
    if num_waves > 1:
        done = np.full(m, -1, dtype=np.int64)  # cluster whose second wave at a cell is known
        in_cluster = np.full(m, -1, dtype=np.int64)
        cluster = np.empty(m, dtype=np.int64)
        state2 = np.full(m, -1, dtype=np.int64)
        queue2 = np.empty(m, dtype=np.int64)
    stamp2 = -1
    for a in range(clusters.shape[0]):
        c = clusters[a]
        seeds = members[ptr[c]: ptr[c + 1]]
        size = _closure(z, threshold, state, -2, seeds, stencil, indptr, indices, c, state,
                        queue)  # fmt: skip
        for b in range(seeds.shape[0]):
            sizes[0, seeds[b]] = size
        if num_waves == 1:
            continue
        for b in range(seeds.shape[0]):
            o = seeds[b]
            # o starts a second wave when it is back at d - 1 after the first
            if done[o] == c or _height(z, threshold, state, c, o) != threshold[o] - 1:
                continue
            # o's cluster at height d - 1 after the first wave, breadth first
            stamp2 += 1
            in_cluster[o] = stamp2
            cluster[0] = o
            count = 1
            head = 0
            while head < count:
                i = cluster[head]
                head += 1
                for k in range(_num_neighbours(i, stencil, indptr)):
                    j = _neighbour(i, k, stencil, indptr, indices)
                    critical = _height(z, threshold, state, c, j) == threshold[j] - 1
                    if critical and in_cluster[j] != stamp2:
                        in_cluster[j] = stamp2
                        cluster[count] = j
                        count += 1
            size2 = _closure(z, threshold, state, c, cluster[:count], stencil, indptr, indices,
                             stamp2, state2, queue2)  # fmt: skip
            for b2 in range(count):
                i = cluster[b2]
                if label[i] == c:
                    sizes[1, i] = size2
                    done[i] = c


@numba.njit(parallel=True, **_JIT)
def wave_sizes_parallel_kernel(z: np.ndarray, threshold: np.ndarray, stencil: np.ndarray,
                               indptr: np.ndarray, indices: np.ndarray, label: np.ndarray,
                               ptr: np.ndarray, members: np.ndarray, num_waves: int,
                               sizes: np.ndarray, num_parts: int) -> None:  # fmt: skip
    """:func:`wave_sizes_kernel` over all clusters, part ``p`` taking every
    ``num_parts``-th cluster from the ``p``-th, each with its own scratch arrays."""
    clusters = np.arange(ptr.shape[0] - 1)
    for p in numba.prange(num_parts):
        wave_sizes_kernel(z, threshold, stencil, indptr, indices, label, ptr, members,
                          np.ascontiguousarray(clusters[p::num_parts]), num_waves, sizes)
