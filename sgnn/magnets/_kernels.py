"""Numba kernels of the spin-1/2 exact diagonalisation: basis, Hamiltonian rows, products."""

from __future__ import annotations

import numba
import numpy as np

_JIT = {"cache": True, "nogil": True}


@numba.njit(**_JIT)
def fixed_weight_states(num_sites: int, num_up: int) -> np.ndarray:
    """Every ``num_sites``-bit integer with ``num_up`` set bits, increasing (Gosper's hack)."""
    count = 1
    for k in range(num_up):  # binomial(num_sites, num_up), exact in int64 here
        count = count * (num_sites - k) // (k + 1)
    out = np.empty(count, dtype=np.int64)
    if num_up == 0:
        out[0] = 0
        return out
    v = (np.int64(1) << num_up) - 1
    for t in range(count):
        out[t] = v
        c = v & -v
        r = v + c
        v = (((r ^ v) >> 2) // c) | r
    return out


@numba.njit(**_JIT)
def state_lookup(states: np.ndarray, num_sites: int) -> np.ndarray:
    """``lookup[s]``: the position of state ``s`` in ``states``, -1 where absent."""
    lookup = np.full(1 << num_sites, -1, dtype=np.int32)
    for t in range(states.shape[0]):
        lookup[states[t]] = t
    return lookup


@numba.njit(**_JIT)
def diagonal_and_row_counts(states: np.ndarray, site_i: np.ndarray, site_j: np.ndarray,
                            coupling: np.ndarray, start: int, stop: int,
                            diagonal: np.ndarray, counts: np.ndarray) -> None:  # fmt: skip
    """For rows ``start:stop``: the diagonal :math:`\\sum_b J_b s^z_i s^z_j` and the number
    of off-diagonal entries (one per antiparallel bond)."""
    for t in range(start, stop):
        s = states[t]
        d = 0.0
        c = 0
        for b in range(site_i.shape[0]):
            if ((s >> site_i[b]) & 1) == ((s >> site_j[b]) & 1):
                d += 0.25 * coupling[b]
            else:
                d -= 0.25 * coupling[b]
                c += 1
        diagonal[t] = d
        counts[t] = c


@numba.njit(parallel=True, **_JIT)
def fill_rows(states: np.ndarray, lookup: np.ndarray, site_i: np.ndarray, site_j: np.ndarray,
              coupling: np.ndarray, start: int, stop: int, indptr: np.ndarray,
              indices: np.ndarray, data: np.ndarray) -> None:  # fmt: skip
    """Off-diagonal entries of rows ``start:stop``: an antiparallel bond ``b`` swaps the two
    spins, with amplitude :math:`J_b/2` (the :math:`S^+_i S^-_j + S^-_i S^+_j` term)."""
    for t in numba.prange(start, stop):
        s = states[t]
        k = indptr[t]
        for b in range(site_i.shape[0]):
            if ((s >> site_i[b]) & 1) != ((s >> site_j[b]) & 1):
                flipped = s ^ ((np.int64(1) << site_i[b]) | (np.int64(1) << site_j[b]))
                indices[k] = lookup[flipped]
                data[k] = 0.5 * coupling[b]
                k += 1


@numba.njit(parallel=True, **_JIT)
def symmetric_matvec(diagonal: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                     data: np.ndarray, x: np.ndarray) -> np.ndarray:  # fmt: skip
    """:math:`y = (D + A) x` for a diagonal ``D`` and the CSR matrix ``A`` (both threads work:
    scipy's own CSR product runs on one core)."""
    n = diagonal.shape[0]
    y = np.empty(n, dtype=np.float64)
    for t in numba.prange(n):
        acc = diagonal[t] * x[t]
        for k in range(indptr[t], indptr[t + 1]):
            acc += data[k] * x[indices[k]]
        y[t] = acc
    return y


@numba.njit(**_JIT)
def permute_states(states: np.ndarray, lookup: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Position of each state after moving the spin of site ``i`` to site ``perm[i]``."""
    out = np.empty(states.shape[0], dtype=np.int64)
    for t in range(states.shape[0]):
        s = states[t]
        moved = np.int64(0)
        for i in range(perm.shape[0]):
            if (s >> i) & 1:
                moved |= np.int64(1) << perm[i]
        out[t] = lookup[moved]
    return out
