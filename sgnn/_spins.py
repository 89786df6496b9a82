"""Argument checks of the periodic spin-1/2 clusters, shared by :mod:`sgnn.magnets` (exact
diagonalisation) and :mod:`sgnn.data` (the sign dataset); numpy only."""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_lattice_shape

#: Most spins: states are int64 bit strings and the lookup table has 2**N entries.
MAX_SITES = 30


def check_cluster(shape: object) -> tuple[int, int]:
    """``(H, W)`` of a periodic cluster with an :math:`S^z = 0` sector: both sides at least 2,
    an even number of sites, at most :data:`MAX_SITES`; else an error naming ``shape``."""
    h, w = check_lattice_shape(shape)
    if min(h, w) < 2:
        raise ValueError(f"shape must be (H, W) with both sides >= 2 (a periodic side of "
                         f"length 1 couples a spin to itself), got {shape!r}")  # fmt: skip
    n = h * w
    if n % 2:
        raise ValueError(f"shape must have an even number of sites H*W for the S^z = 0 sector, "
                         f"got {shape!r} ({n} sites)")  # fmt: skip
    if n > MAX_SITES:
        raise ValueError(f"shape must have at most {MAX_SITES} sites, got {shape!r} ({n})")
    return h, w


def check_coupling(value: object, name: str) -> float:
    """``value`` as a finite float, else an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_couplings(j1: object, j2: object) -> tuple[float, float]:
    """``(j1, j2)`` as finite floats, not both zero."""
    j1, j2 = check_coupling(j1, "j1"), check_coupling(j2, "j2")
    if j1 == 0.0 and j2 == 0.0:
        raise ValueError("j1 and j2 must not both be zero (every state would be a ground state)")
    return j1, j2
