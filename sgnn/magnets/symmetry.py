r"""The space group of a periodic cluster acting on basis states: symmetry orbits.

Two basis states related by a translation or a point-group operation of the periodic
cluster are equivalent for every model that is invariant under that group, so a test
set that holds the image of a training state measures memory, not generalisation.
:func:`canonical_states` names every orbit by its smallest member, so that orbits can be
split between training and test.
"""

from __future__ import annotations

import numba
import numpy as np

from .._spins import check_cluster

__all__ = ["canonical_states", "lattice_symmetries"]

_JIT = {"cache": True, "nogil": True, "boundscheck": False}


def lattice_symmetries(shape: tuple[int, int]) -> np.ndarray:
    r"""The site permutations of the space group of the periodic :math:`H \times W`
    cluster: every translation composed with every point-group operation that maps the
    cluster onto itself (the 8 of :math:`D_4` when :math:`H = W`, else the 4 that keep
    the axes: identity, the two axis reflections and the half turn).

    Site :math:`(r, c)` is ``r * W + c`` as in :func:`~sgnn.magnets.lattice_translation`;
    row :math:`g` of the result maps site ``i`` to ``perm[g, i]``. Duplicates (on
    small clusters some operations coincide) are removed; the identity is row 0.

    Args:
        shape (tuple[int, int]): :math:`(H, W)`.

    Returns:
        numpy.ndarray: int64, shape :math:`(|G|, H W)`.
    """
    h, w = check_cluster(shape)
    r, c = np.divmod(np.arange(h * w), w)
    points = [(r, c), ((-r) % h, c), (r, (-c) % w), ((-r) % h, (-c) % w)]
    if h == w:  # the quarter turns and diagonal reflections map a square onto itself
        points += [(c, r), ((-c) % h, r), (c, (-r) % w), ((-c) % h, (-r) % w)]
    perms = [((pr + dr) % h) * w + (pc + dc) % w
             for pr, pc in points for dr in range(h) for dc in range(w)]  # fmt: skip
    unique = np.unique(np.stack(perms), axis=0)
    identity = np.arange(h * w)
    order = np.argsort(~(unique == identity).all(axis=1), kind="stable")
    return unique[order].astype(np.int64)


@numba.njit(parallel=True, **_JIT)
def _smallest_images(states: np.ndarray, tables: np.ndarray) -> np.ndarray:
    # tables[g, k, b]: the bits that byte k of a state, of value b, sets after g
    out = np.empty_like(states)
    num_groups, num_bytes = tables.shape[0], tables.shape[1]
    for t in numba.prange(states.shape[0]):
        s = states[t]
        best = s
        for g in range(num_groups):
            moved = np.int64(0)
            for k in range(num_bytes):
                moved |= tables[g, k, (s >> (8 * k)) & 255]
            best = min(best, moved)
        out[t] = best
    return out


def canonical_states(states: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    r"""The smallest bit string in the orbit of every basis state under
    :func:`lattice_symmetries`: equal for two states exactly when a symmetry of the
    cluster maps one onto the other.

    Args:
        states (numpy.ndarray): Integer bit strings, bit ``i`` the spin of site ``i``
            (1 = up), as :attr:`~sgnn.magnets.GroundState.states`; any shape.
        shape (tuple[int, int]): :math:`(H, W)`.

    Returns:
        numpy.ndarray: int64, the shape of ``states``.
    """
    h, w = check_cluster(shape)
    arr = np.asarray(states)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"states must be integer bit strings, got dtype {arr.dtype}")
    flat = arr.astype(np.int64).reshape(-1)
    if flat.size and (flat.min() < 0 or flat.max() >= 1 << (h * w)):
        raise ValueError(f"states must be bit strings of the {h * w} sites of shape {(h, w)}, "
                         f"in [0, 2**{h * w}), got values in [{flat.min()}, {flat.max()}]")
    perms = lattice_symmetries((h, w))
    num_bytes = (h * w + 7) // 8
    tables = np.zeros((len(perms), num_bytes, 256), dtype=np.int64)
    values = np.arange(256)
    for k in range(num_bytes):
        for bit in range(8):
            site = 8 * k + bit
            if site < h * w:
                on = (values >> bit) & 1
                tables[:, k, :] |= on[None, :] << perms[:, site, None]
    return _smallest_images(flat, tables).reshape(arr.shape)
