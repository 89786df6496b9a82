"""Argument checks shared across sgnn; numpy only, so every layer can use them."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as an int if it is an integer ``>= 1`` (bools are refused), else a
    ``ValueError`` that names the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_lattice_shape(shape: Any, name: str = "shape") -> tuple[int, int]:
    """``(H, W)`` as two positive Python ints, or a ``TypeError``/``ValueError``
    naming the argument."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{name} must be a pair (H, W) of positive ints, got {shape!r}") from None
    if len(dims) != 2:
        raise ValueError(f"{name} must be a pair (H, W) of positive ints, got {shape!r}")
    if any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in dims):
        raise TypeError(f"{name} must be a pair (H, W) of positive ints, got {shape!r}")
    if min(dims) < 1:
        raise ValueError(f"{name} must be a pair (H, W) of positive ints, got {shape!r}")
    return int(dims[0]), int(dims[1])
