"""Numba kernels of the sandpile engine.

:func:`relax_kernel` and the sampling kernels work on the CSR arrays of a
:class:`~sgnn.sandpile.SandpileGraph`, whose column index ``n`` is the sink:
there ``z`` has ``n + 1`` entries and ``z[n]`` collects the lost grains.
:func:`avalanche_kernel` works on the cell layout described in its docstring.
"""

from __future__ import annotations

import numba
import numpy as np

from .graph import CellLayout

_JIT = {"cache": True, "nogil": True, "boundscheck": False}


# Toppling counts above this are refused: with fewer than 2**62 grains in the pile
# (relax's guard) one visit adds less than 2**62, so a count is checked before it can wrap.
TOPPLING_LIMIT = 2**62


@numba.njit(inline="always", **_JIT)
def _topple_whole_excess(z: np.ndarray, topplings: np.ndarray, i: int, t: int) -> int:
    """Topple node ``i`` ``z[i] // t`` times; returns that number, or -1 if its count
    would pass :data:`TOPPLING_LIMIT`. The caller hands out the grains."""
    k = z[i] // t
    z[i] -= k * t
    topplings[i] += k
    return -1 if topplings[i] > TOPPLING_LIMIT else k


@numba.njit(**_JIT)
def relax_kernel(z: np.ndarray, topplings: np.ndarray, indptr: np.ndarray,
                 indices: np.ndarray, threshold: np.ndarray) -> bool:  # fmt: skip
    """Stabilise ``z`` in place, toppling a node's whole excess per visit.

    Any order of legal topplings gives the same result (abelian property), so
    the order is chosen for speed. While many nodes are unstable, in-place
    sweeps over all nodes are cheapest (sequential memory access, no
    bookkeeping). Once a sweep topples fewer than 1/16 of the nodes, the rest
    is relaxed through a first-in first-out ring: a node is queued when its
    height crosses its threshold from below and leaves the queue only to
    topple below it again, so it is queued at most once at a time and ``n``
    slots suffice. First-in first-out lets a node gather grains from several
    neighbours before its turn, so it topples in few, large visits.

    Returns False, leaving ``z`` part-relaxed, if a toppling count would exceed
    :data:`TOPPLING_LIMIT` (int64 counts would otherwise wrap).
    """
    n = threshold.shape[0]
    while True:
        count = 0
        for i in range(n):
            if z[i] >= threshold[i]:
                k = _topple_whole_excess(z, topplings, i, threshold[i])
                if k < 0:
                    return False
                for e in range(indptr[i], indptr[i + 1]):
                    z[indices[e]] += k
                count += 1
        if 16 * count < n or count == 0:
            break
    ring = np.empty(n, dtype=np.int64)
    head = 0
    count = 0
    for i in range(n):
        if z[i] >= threshold[i]:
            ring[count] = i
            count += 1
    while count > 0:
        i = ring[head]
        head = head + 1 if head + 1 < n else 0
        count -= 1
        k = _topple_whole_excess(z, topplings, i, threshold[i])
        if k < 0:
            return False
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            old = z[j]
            z[j] = old + k
            if j < n and old < threshold[j] and old + k >= threshold[j]:
                tail = head + count
                ring[tail - n if tail >= n else tail] = j
                count += 1
    return True


@numba.njit(**_JIT)
def avalanche_kernel(
    z: np.ndarray,
    site: int,
    cells: CellLayout,
    toppled: np.ndarray,
    counter: np.ndarray,
    front: np.ndarray,
    touched: np.ndarray,
    topplings: np.ndarray,
    record_topplings: bool,
) -> tuple[int, int, int, float, int]:
    """Add one grain at ``site`` of a stable ``z`` and relax by synchronous updates.

    The kernel works on *cells* (:attr:`SandpileGraph._cells`): the nodes plus
    sink cells whose threshold is unreachable. On the square lattice the cells
    are the lattice padded by a ring of sink cells and the neighbours of cell
    ``i`` are ``i + cells.stencil``; on other graphs the stencil is empty,
    neighbours come from the CSR arrays and the single sink is the last cell.

    In each step every unstable node topples once, which defines the
    avalanche's duration. Starting from a stable configuration a node never
    holds twice its threshold (it receives at most one grain per edge and
    step), so one toppling per step is its whole excess and the outcome equals
    that of :func:`relax_kernel`. Grains arrive one at a time, so a node joins
    the next front exactly when its height reaches its threshold; a node
    still unstable after toppling (impossible from a stable start) rejoins it.

    ``toppled`` holds the stamp of the last avalanche in which each cell
    toppled and ``counter[0]`` the last stamp used, so it never needs
    clearing. ``front`` has twice as many slots as there are cells (current
    and next front) and ``touched`` receives the distinct toppled cells.
    Returns ``(size, area, duration, radius, lost)``.
    """
    threshold, sink_degree, stencil = cells.threshold, cells.sink_degree, cells.stencil
    indptr, indices, pos = cells.indptr, cells.indices, cells.pos
    m = z.shape[0]
    z[site] += 1
    if z[site] < threshold[site]:
        return 0, 0, 0, 0.0 if pos.shape[1] > 0 else np.nan, 0
    stamp = counter[0] + 1
    counter[0] = stamp
    num_offsets = stencil.shape[0]
    cur = 0  # the current front is front[cur : cur + ncur], the next one the other half
    front[0] = site
    ncur = 1
    size = 0
    area = 0
    duration = 0
    lost = 0
    while ncur > 0:
        duration += 1
        nxt = m - cur
        nnext = 0
        for c in range(cur, cur + ncur):
            i = front[c]
            t = threshold[i]
            z[i] -= t
            size += 1
            lost += sink_degree[i]
            if record_topplings:
                topplings[i] += 1
            if toppled[i] != stamp:
                toppled[i] = stamp
                touched[area] = i
                area += 1
            if num_offsets > 0:
                for k in range(num_offsets):
                    j = i + stencil[k]
                    z[j] += 1
                    if z[j] == threshold[j]:
                        front[nxt + nnext] = j
                        nnext += 1
            else:
                for e in range(indptr[i], indptr[i + 1]):
                    j = indices[e]
                    z[j] += 1
                    if z[j] == threshold[j]:
                        front[nxt + nnext] = j
                        nnext += 1
            if z[i] >= t:
                front[nxt + nnext] = i
                nnext += 1
        cur = nxt
        ncur = nnext
    radius = _gyration_radius(pos, touched, area)
    return size, area, duration, radius, lost


@numba.njit(**_JIT)
def _gyration_radius(pos: np.ndarray, cells: np.ndarray, count: int) -> float:
    dim = pos.shape[1]
    if dim == 0:
        return np.nan
    total = 0.0
    for d in range(dim):
        mean = 0.0
        for a in range(count):
            mean += pos[cells[a], d]
        mean /= count
        for a in range(count):
            diff = pos[cells[a], d] - mean
            total += diff * diff
    return np.sqrt(total / count)


@numba.njit(**_JIT)
def drive_kernel(
    z: np.ndarray,
    sites: np.ndarray,
    cells: CellLayout,
    toppled: np.ndarray,
    counter: np.ndarray,
    size: np.ndarray,
    area: np.ndarray,
    duration: np.ndarray,
    radius: np.ndarray,
    lost: np.ndarray,
) -> None:
    """Drop a grain on each of the cells ``sites`` in turn and record every avalanche."""
    m = z.shape[0]
    front = np.empty(2 * m, dtype=np.int64)
    touched = np.empty(m, dtype=np.int64)
    no_topplings = np.empty(0, dtype=np.int64)
    for a in range(sites.shape[0]):
        s, ar, du, ra, lo = avalanche_kernel(
            z, sites[a], cells, toppled, counter, front, touched, no_topplings, False
        )
        size[a] = s
        area[a] = ar
        duration[a] = du
        radius[a] = ra
        lost[a] = lo


# Height at which the lattice kernel parks sink cells: a grain reaching one makes it
# no less negative than -2**30 + (grains lost in one drive chunk), far below 0, so
# "negative after the grain" identifies a lost grain and a sink never reaches 4.
# A chunk loses at most its grains plus the 3 n grains a stable pile holds; both
# are far below 2**30 for any lattice that passes the memory guard.
SINK_PARK = -(2**30)


@numba.njit(**_JIT)
def lattice_drive_kernel(
    z: np.ndarray,
    sites: np.ndarray,
    width: int,
    toppled: np.ndarray,
    counter: np.ndarray,
    size: np.ndarray,
    area: np.ndarray,
    duration: np.ndarray,
    radius: np.ndarray,
    lost: np.ndarray,
) -> None:
    """:func:`drive_kernel` specialised to the square lattice, with the same records.

    ``z`` is the padded lattice of :attr:`SandpileGraph._cells` (row width
    ``width``) with its sink cells at :data:`SINK_PARK`, so every cell has the
    constant threshold 4, no sink cell ever joins a front and a grain is lost
    exactly when its receiver's height is negative. The radius of gyration is
    accumulated on each cell's first toppling from integer offsets to the drop
    site (exact sums, no second pass). Indices are unsigned, which spares numba
    its negative-index wrap-around on every access. ``toppled`` is a uint8
    stamp array cleared every 255 avalanches.
    """
    m = z.shape[0]
    front = np.empty(2 * m, dtype=np.uint64)
    wu = np.uint64(width)
    one = np.uint64(1)
    inv = 1.0 / width
    for a in range(sites.shape[0]):
        s = np.uint64(sites[a])
        z[s] += 1
        if z[s] < 4:
            size[a] = 0
            area[a] = 0
            duration[a] = 0
            radius[a] = 0.0
            lost[a] = 0
            continue
        stamp = counter[0] + 1
        if stamp > 255:
            toppled[:] = 0
            stamp = 1
        counter[0] = stamp
        r0 = np.int64((np.float64(s) + 0.5) * inv)
        c0 = np.int64(s) - r0 * width
        cur = 0
        front[0] = s
        ncur = 1
        sz = 0
        ar = 0
        du = 0
        lo = 0
        sum_r = 0
        sum_c = 0
        sum_sq = 0
        while ncur > 0:
            du += 1
            nxt = m - cur
            nnext = 0
            for c in range(cur, cur + ncur):
                i = front[c]
                z[i] -= 4
                sz += 1
                if toppled[i] != stamp:
                    toppled[i] = stamp
                    ar += 1
                    # row by a float product: exact for any index below 2**50
                    ri = np.int64((np.float64(i) + 0.5) * inv)
                    dr = ri - r0
                    dc = np.int64(i) - ri * width - c0
                    sum_r += dr
                    sum_c += dc
                    sum_sq += dr * dr + dc * dc
                for j in (i - wu, i + wu, i - one, i + one):
                    v = z[j] + 1
                    z[j] = v
                    if v == 4:
                        front[nxt + nnext] = j
                        nnext += 1
                    elif v < 0:
                        lo += 1
                if z[i] >= 4:  # impossible from a stable start; kept as a guard
                    front[nxt + nnext] = i
                    nnext += 1
            cur = nxt
            ncur = nnext
        size[a] = sz
        area[a] = ar
        duration[a] = du
        lost[a] = lo
        mean_r = sum_r / ar
        mean_c = sum_c / ar
        radius[a] = np.sqrt(max(sum_sq / ar - mean_r * mean_r - mean_c * mean_c, 0.0))


@numba.njit(**_JIT)
def every_site_kernel(z: np.ndarray, sites: np.ndarray, cells: CellLayout, size: np.ndarray,
                      area: np.ndarray) -> None:  # fmt: skip
    """Size and area of the avalanche a grain at each of ``sites`` would cause, alone.

    Every avalanche runs on the same working copy ``z``; afterwards only the
    cells it changed (the toppled cells and their neighbours, and the sink
    cells) are restored from a pristine copy, so the cost is that of the
    avalanches, not ``len(sites)`` copies of the lattice.
    """
    m = z.shape[0]
    original = z.copy()
    front = np.empty(2 * m, dtype=np.int64)
    touched = np.empty(m, dtype=np.int64)
    toppled = np.zeros(m, dtype=np.int64)
    counter = np.zeros(1, dtype=np.int64)
    no_topplings = np.empty(0, dtype=np.int64)
    stencil, indptr, indices = cells.stencil, cells.indptr, cells.indices
    for a in range(sites.shape[0]):
        s = sites[a]
        sz, ar, _, _, _ = avalanche_kernel(
            z, s, cells, toppled, counter, front, touched, no_topplings, False
        )
        size[a] = sz
        area[a] = ar
        z[s] = original[s]
        for t in range(ar):
            i = touched[t]
            z[i] = original[i]
            if stencil.shape[0] > 0:
                for k in range(stencil.shape[0]):
                    z[i + stencil[k]] = original[i + stencil[k]]
            else:
                for e in range(indptr[i], indptr[i + 1]):
                    z[indices[e]] = original[indices[e]]


@numba.njit(parallel=True, **_JIT)
def every_site_parallel_kernel(z: np.ndarray, sites: np.ndarray, cells: CellLayout,
                               size: np.ndarray, area: np.ndarray,
                               num_parts: int) -> None:  # fmt: skip
    """:func:`every_site_kernel` split over threads, with the same records.

    Part ``p`` takes every ``num_parts``-th site from the ``p``-th (an even
    share of the large avalanches wherever they cluster) and runs
    :func:`every_site_kernel` on its own working copy of ``z``, which is not
    modified. Each site's avalanche depends only on ``z``, so the records do
    not depend on ``num_parts`` or on the number of threads.
    """
    for p in numba.prange(num_parts):
        part = np.ascontiguousarray(sites[p::num_parts])
        part_size = np.empty(part.shape[0], dtype=np.int64)
        part_area = np.empty(part.shape[0], dtype=np.int64)
        every_site_kernel(z.copy(), part, cells, part_size, part_area)
        size[p::num_parts] = part_size
        area[p::num_parts] = part_area


@numba.njit(**_JIT)
def uniform_spanning_tree(indptr: np.ndarray, indices: np.ndarray, rng: np.random.Generator,
                          parent_edge: np.ndarray) -> None:  # fmt: skip
    """Wilson's algorithm: a uniform spanning tree rooted at the sink.

    ``parent_edge[i]`` receives the CSR position of the edge from node ``i``
    towards the root. Loop-erased random walks leave their erased loops
    behind simply by overwriting ``parent_edge`` on revisits.
    """
    n = indptr.shape[0] - 1
    in_tree = np.zeros(n + 1, dtype=np.bool_)
    in_tree[n] = True
    for start in range(n):
        u = start
        while not in_tree[u]:
            deg = indptr[u + 1] - indptr[u]
            e = indptr[u] + int(rng.random() * deg)
            parent_edge[u] = e
            u = indices[e]
        u = start
        while not in_tree[u]:
            in_tree[u] = True
            u = indices[parent_edge[u]]


@numba.njit(**_JIT)
def tree_depths(indptr: np.ndarray, indices: np.ndarray, parent_edge: np.ndarray) -> np.ndarray:
    """Depth of every node in the tree given by ``parent_edge`` (the sink has depth 0)."""
    n = indptr.shape[0] - 1
    depth = np.full(n + 1, -1, dtype=np.int64)
    depth[n] = 0
    path = np.empty(n, dtype=np.int64)
    for start in range(n):
        length = 0
        u = start
        while depth[u] < 0:
            path[length] = u
            length += 1
            u = indices[parent_edge[u]]
        d = depth[u]
        for a in range(length - 1, -1, -1):
            d += 1
            depth[path[a]] = d
    return depth


@numba.njit(**_JIT)
def burning_bijection(indptr: np.ndarray, indices: np.ndarray, parent_edge: np.ndarray,
                      depth: np.ndarray, z: np.ndarray) -> None:  # fmt: skip
    """The recurrent configuration whose burning tree is the given spanning tree.

    Under Dhar's burning algorithm node ``i`` burns at step ``depth[i]``
    exactly when ``a_i <= z_i < a_i + c_i``, where ``a_i`` counts its edges to
    non-sink nodes that burn no earlier than it and ``c_i`` its edges to nodes
    burnt one step before. The offset within that window selects which of the
    ``c_i`` edges is the tree edge, which makes the map a bijection.
    """
    n = indptr.shape[0] - 1
    for i in range(n):
        di = depth[i]
        later = 0
        rank = 0
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if j < n and depth[j] >= di:
                later += 1
            elif depth[j] == di - 1 and e < parent_edge[i]:
                rank += 1
        z[i] = later + rank


@numba.njit(inline="always", **_JIT)
def _append(buf: np.ndarray, count: int, value: int) -> np.ndarray:
    """``buf`` with ``value`` stored at ``count``, doubled in length first if it is full."""
    if count == buf.shape[0]:
        grown = np.empty(2 * buf.shape[0], dtype=buf.dtype)
        grown[:count] = buf
        buf = grown
    buf[count] = value
    return buf


@numba.njit(**_JIT)
def waves_kernel(z: np.ndarray, site: int, indptr: np.ndarray, indices: np.ndarray,
                 threshold: np.ndarray, max_waves: int) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:  # fmt: skip
    """Add a grain at ``site`` of the stable ``z`` (``n + 1`` entries, the last the sink)
    and decompose the avalanche into waves, at most ``max_waves`` of them (-1: all).

    In a wave the drop site topples once and a node :math:`i` joins when
    :math:`z_i` plus its number of joined neighbours reaches its threshold: a
    breadth-first closure, whose rounds are recorded. After the wave the
    heights change by :math:`-\\Delta\\,1_{\\text{wave}}`; every node but the
    drop site is stable again, and another wave follows while the drop site
    is not. ``z`` ends as the relaxed configuration when all waves ran.

    Returns ``(sites, rounds, wave_ptr)``: the nodes of wave ``k`` are
    ``sites[wave_ptr[k]:wave_ptr[k + 1]]`` in order of joining, each with the
    closure round at which it joined (0 for the drop site).
    """
    n = threshold.shape[0]
    sites = np.empty(16, dtype=np.int64)
    rounds = np.empty(16, dtype=np.int64)
    wave_ptr = np.zeros(16, dtype=np.int64)
    joined = np.full(n, -1, dtype=np.int64)  # the last wave each node joined
    count = np.zeros(n, dtype=np.int64)  # joined neighbours in the current wave
    touched = np.empty(n, dtype=np.int64)  # nodes with count > 0, to reset
    z[site] += 1
    total = 0
    wave = 0
    while z[site] >= threshold[site] and wave != max_waves:
        start = total
        sites = _append(sites, total, site)
        rounds = _append(rounds, total, 0)
        total += 1
        joined[site] = wave
        num_touched = 0
        head = start
        while head < total:  # nodes of one round are contiguous: a breadth-first order
            i = sites[head]
            r = rounds[head]
            head += 1
            for e in range(indptr[i], indptr[i + 1]):
                j = indices[e]
                if j == n:
                    continue
                if count[j] == 0:
                    touched[num_touched] = j
                    num_touched += 1
                count[j] += 1
                if joined[j] != wave and z[j] + count[j] >= threshold[j]:
                    joined[j] = wave
                    sites = _append(sites, total, j)
                    rounds = _append(rounds, total, r + 1)
                    total += 1
        for a in range(start, total):
            z[sites[a]] -= threshold[sites[a]]
        for a in range(num_touched):
            j = touched[a]
            z[j] += count[j]
            count[j] = 0
        wave += 1
        wave_ptr = _append(wave_ptr, wave, total)
    return sites[:total].copy(), rounds[:total].copy(), wave_ptr[: wave + 1].copy()


@numba.njit(**_JIT)
def activity_kernel(z: np.ndarray, site: int, indptr: np.ndarray, indices: np.ndarray,
                    threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Add a grain at ``site`` of the stable ``z`` (``n + 1`` entries, the last the
    sink) and relax by synchronous steps, recording which nodes topple at each.

    As in :func:`avalanche_kernel`, from a stable start a node never holds twice
    its threshold, so it topples at most once per step, and it joins the next
    step exactly when a grain brings it to its threshold (or it stays unstable
    after toppling). Returns ``(sites, step_ptr)``: the nodes toppling at step
    ``t`` are ``sites[step_ptr[t]:step_ptr[t + 1]]``.
    """
    n = threshold.shape[0]
    sites = np.empty(16, dtype=np.int64)
    step_ptr = np.zeros(16, dtype=np.int64)
    z[site] += 1
    if z[site] < threshold[site]:
        return sites[:0].copy(), step_ptr[:1].copy()
    sites[0] = site
    total = 1
    start = 0
    steps = 0
    while start < total:
        stop = total
        steps += 1
        step_ptr = _append(step_ptr, steps, stop)
        for a in range(start, stop):
            i = sites[a]
            z[i] -= threshold[i]
            for e in range(indptr[i], indptr[i + 1]):
                j = indices[e]
                z[j] += 1
                if j < n and z[j] == threshold[j]:
                    sites = _append(sites, total, j)
                    total += 1
            if z[i] >= threshold[i]:
                sites = _append(sites, total, i)
                total += 1
        start = stop
    return sites[:total].copy(), step_ptr[: steps + 1].copy()
