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

Many clusters have the same wave (at L = 512 the distinct waves sum to a sixth of
the waves of all clusters), so equal waves are detected and computed once
(:func:`first_waves`, :func:`second_waves`).
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
             stamp: int, state: np.ndarray, queue: np.ndarray, label: np.ndarray,
             classid: np.ndarray, target: int) -> int:  # fmt: skip
    """The closure of ``seeds`` (all topple; a cell joins when its height plus its number
    of joined neighbours reaches its threshold) on the heights left by the wave in
    ``wave`` under ``wave_stamp`` (-2: on ``z``), as ``queue[:size]``; returns ``size``.

    Records in ``state`` under the new ``stamp`` which cells joined and how many of
    every cell's neighbours did (joined or not), for :func:`_height`. With
    ``target >= 0`` it stops, returning -1, as soon as a cell of a cluster ``l`` with
    ``classid[l] == target`` joins (``label``: the cluster of every cell).
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
                if target >= 0 and label[j] >= 0 and classid[label[j]] == target:
                    state[j] = s
                    return -1
            state[j] = s
    return size


@numba.njit(**_JIT)
def first_waves(z: np.ndarray, threshold: np.ndarray, stencil: np.ndarray, indptr: np.ndarray,
                indices: np.ndarray, label: np.ndarray, ptr: np.ndarray, members: np.ndarray,
                part: int, num_parts: int, wave_size: np.ndarray, classid: np.ndarray,
                container: np.ndarray) -> None:  # fmt: skip
    r"""First-wave sizes of the clusters ``part, part + num_parts, ...``, sharing equal waves.

    If cluster :math:`C'` lies in the wave :math:`W(C)` of cluster :math:`C`, then
    :math:`W(C') \subseteq W(C)`; if moreover :math:`W(C')` reaches a cell of
    :math:`C`, the two are equal. So every wave computed in full is the
    ``container`` of the clusters it holds (the smallest such wave: if any wave
    holding :math:`C'` equals :math:`W(C')`, that one does), and the closure of a
    later cluster stops as soon as it reaches a cluster of its container's class.
    Writes ``wave_size[c]`` and ``classid[c]`` (the cluster whose wave was computed in
    full and equals ``c``'s) for those clusters; ``container[c]`` for every cluster.
    """
    m = z.shape[0]
    state = np.full(m, -1, dtype=np.int64)
    queue = np.empty(m, dtype=np.int64)
    for c in range(part, ptr.shape[0] - 1, num_parts):
        seeds = members[ptr[c]: ptr[c + 1]]
        k = container[c]
        size = _closure(z, threshold, state, -2, seeds, stencil, indptr, indices, c, state,
                        queue, label, classid, k)  # fmt: skip
        if size < 0:
            classid[c] = k
            wave_size[c] = wave_size[k]
            continue
        classid[c] = c
        wave_size[c] = size
        for b in range(size):
            held = label[queue[b]]
            if held >= 0 and (container[held] < 0 or wave_size[container[held]] > size):
                container[held] = c


@numba.njit(**_JIT)
def merge_classes(wave_size: np.ndarray, classid: np.ndarray, container: np.ndarray
                  ) -> np.ndarray:  # fmt: skip
    """One class per distinct first wave across the parts of :func:`first_waves`
    (``classid``, ``container``: one row per part): the representative cluster of
    every cluster's wave.

    A representative :math:`r` of part :math:`p` has the wave of a class :math:`k` of an
    earlier part exactly when ``container[q, r] == k`` and the sizes agree (the
    container holds :math:`W(r)`, and is the smallest wave that does).
    """
    num_parts, n = classid.shape
    out = np.full(n, -1, dtype=np.int64)
    for p in range(num_parts):
        for c in range(p, n, num_parts):
            if classid[p, c] != c:
                continue
            out[c] = c
            for q in range(p):
                k = container[q, c]
                if k >= 0 and wave_size[k] == wave_size[c]:
                    out[c] = out[k]
                    break
        for c in range(p, n, num_parts):
            out[c] = out[classid[p, c]]
    return out


@numba.njit(**_JIT)
def second_waves(z: np.ndarray, threshold: np.ndarray, stencil: np.ndarray, indptr: np.ndarray,
                 indices: np.ndarray, label: np.ndarray, ptr: np.ndarray, members: np.ndarray,
                 rep: np.ndarray, class_ptr: np.ndarray, class_clusters: np.ndarray,
                 part: int, num_parts: int, sizes: np.ndarray) -> None:  # fmt: skip
    """Second-wave sizes ``sizes[1, i]`` of every cell ``i`` of the classes ``part, part +
    num_parts, ...``; class ``q`` holds the clusters ``class_clusters[class_ptr[q]:
    class_ptr[q + 1]]``, whose representative (``rep``) is the first.

    The heights after the first wave are the same for every origin of a class, so the
    wave is recomputed once per class, and each second wave once per cluster of those
    heights at :math:`d - 1`, for all the class's origins it holds. On those shared
    heights, equal second waves are shared as in :func:`first_waves`, with a
    container per cell.
    """
    m = z.shape[0]
    state = np.full(m, -1, dtype=np.int64)
    queue = np.empty(m, dtype=np.int64)
    done = np.full(m, -1, dtype=np.int64)  # class whose second wave at a cell is known
    in_cluster = np.full(m, -1, dtype=np.int64)  # a cell's cluster after the first wave
    cluster = np.empty(m, dtype=np.int64)
    state2 = np.full(m, -1, dtype=np.int64)
    queue2 = np.empty(m, dtype=np.int64)
    # by cluster after the first wave (at most one per origin): its class and wave size
    classid2 = np.full(m, -1, dtype=np.int64)
    size_of = np.zeros(m, dtype=np.int64)
    container2 = np.full(m, -1, dtype=np.int64)
    stamp2 = -1
    for q in range(part, class_ptr.shape[0] - 1, num_parts):
        r = class_clusters[class_ptr[q]]
        _closure(z, threshold, state, -2, members[ptr[r]: ptr[r + 1]], stencil, indptr,
                 indices, r, state, queue, label, rep, -1)  # fmt: skip
        start = stamp2 + 1  # clusters of earlier classes, on other heights, are stale
        for a in range(class_ptr[q], class_ptr[q + 1]):
            c = class_clusters[a]
            for b in range(ptr[c], ptr[c + 1]):
                o = members[b]
                # o starts a second wave when it is back at d - 1 after the first
                if done[o] == r or _height(z, threshold, state, r, o) != threshold[o] - 1:
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
                        critical = _height(z, threshold, state, r, j) == threshold[j] - 1
                        if critical and in_cluster[j] != stamp2:
                            in_cluster[j] = stamp2
                            cluster[count] = j
                            count += 1
                k = container2[o] if container2[o] >= start else -1
                size2 = _closure(z, threshold, state, r, cluster[:count], stencil, indptr,
                                 indices, stamp2, state2, queue2, in_cluster, classid2,
                                 k)  # fmt: skip
                if size2 < 0:
                    classid2[stamp2] = k
                    size2 = size_of[k]
                else:
                    classid2[stamp2] = stamp2
                    size_of[stamp2] = size2
                    for b2 in range(size2):
                        j = queue2[b2]
                        if container2[j] < start or size_of[container2[j]] > size2:
                            container2[j] = stamp2
                for b2 in range(count):
                    i = cluster[b2]
                    if label[i] >= 0 and rep[label[i]] == r:
                        sizes[1, i] = size2
                        done[i] = r


@numba.njit(**_JIT)
def _classes(rep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The clusters of every class, representative first: ``(class_ptr, class_clusters)``."""
    order = np.argsort(rep, kind="mergesort")
    n = rep.shape[0]
    class_ptr = np.zeros(n + 1, dtype=np.int64)
    num_classes = 0
    for a in range(n):
        if a == 0 or rep[order[a]] != rep[order[a - 1]]:
            class_ptr[num_classes] = a
            num_classes += 1
    class_ptr[num_classes] = n
    for q in range(num_classes):
        for a in range(class_ptr[q], class_ptr[q + 1]):
            if order[a] == rep[order[a]]:
                order[a], order[class_ptr[q]] = order[class_ptr[q]], order[a]
                break
    return class_ptr[: num_classes + 1].copy(), order


@numba.njit(**_JIT)
def _spread(ptr: np.ndarray, members: np.ndarray, wave_size: np.ndarray, sizes: np.ndarray
            ) -> None:  # fmt: skip
    """The first-wave size of every cluster onto its cells."""
    for c in range(ptr.shape[0] - 1):
        for b in range(ptr[c], ptr[c + 1]):
            sizes[0, members[b]] = wave_size[c]


@numba.njit(**_JIT)
def wave_sizes_kernel(z: np.ndarray, threshold: np.ndarray, stencil: np.ndarray,
                      indptr: np.ndarray, indices: np.ndarray, label: np.ndarray,
                      ptr: np.ndarray, members: np.ndarray, num_waves: int,
                      sizes: np.ndarray) -> None:  # fmt: skip
    """Sizes of the first ``num_waves`` (1 or 2) waves of every cell, on one thread:
    ``sizes[k, i]`` (cells below :math:`d - 1` untouched)."""
    n = ptr.shape[0] - 1
    wave_size = np.zeros(n, dtype=np.int64)
    classid = np.full((1, n), -1, dtype=np.int64)
    container = np.full((1, n), -1, dtype=np.int64)
    first_waves(z, threshold, stencil, indptr, indices, label, ptr, members, 0, 1, wave_size,
                classid[0], container[0])  # fmt: skip
    _spread(ptr, members, wave_size, sizes)
    if num_waves > 1:
        rep = merge_classes(wave_size, classid, container)
        class_ptr, class_clusters = _classes(rep)
        second_waves(z, threshold, stencil, indptr, indices, label, ptr, members, rep,
                     class_ptr, class_clusters, 0, 1, sizes)  # fmt: skip


@numba.njit(parallel=True, **_JIT)
def wave_sizes_parallel_kernel(z: np.ndarray, threshold: np.ndarray, stencil: np.ndarray,
                               indptr: np.ndarray, indices: np.ndarray, label: np.ndarray,
                               ptr: np.ndarray, members: np.ndarray, num_waves: int,
                               sizes: np.ndarray, num_parts: int) -> None:  # fmt: skip
    """:func:`wave_sizes_kernel` in ``num_parts`` parts, part ``p`` taking every
    ``num_parts``-th cluster (then class) from the ``p``-th, each with its own
    scratch arrays; the classes of equal waves are merged across parts in between."""
    n = ptr.shape[0] - 1
    wave_size = np.zeros(n, dtype=np.int64)
    classid = np.full((num_parts, n), -1, dtype=np.int64)
    container = np.full((num_parts, n), -1, dtype=np.int64)
    for p in numba.prange(num_parts):
        first_waves(z, threshold, stencil, indptr, indices, label, ptr, members, p, num_parts,
                    wave_size, classid[p], container[p])  # fmt: skip
    _spread(ptr, members, wave_size, sizes)
    if num_waves > 1:
        rep = merge_classes(wave_size, classid, container)
        class_ptr, class_clusters = _classes(rep)
        for p in numba.prange(num_parts):
            second_waves(z, threshold, stencil, indptr, indices, label, ptr, members, rep,
                         class_ptr, class_clusters, p, num_parts, sizes)  # fmt: skip
