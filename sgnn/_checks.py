"""Argument checks shared across sgnn; numpy only, so every layer can use them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as an int if it is an integer ``>= 1``, else an error that names the
    argument: a ``TypeError`` for a value that is not an int (bools included), a
    ``ValueError`` for an int below 1, as everywhere in sgnn (the type is wrong, or the
    value)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_int_pair(value: Any, name: str, form: str) -> tuple[int, int]:
    """``value`` as two Python ints, or a ``TypeError``/``ValueError`` saying that
    ``name`` must be ``form`` (e.g. ``"a pair (dr, dc) of ints"``)."""
    try:
        pair = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be {form}, got {value!r}") from None
    if len(pair) != 2:
        raise ValueError(f"{name} must be {form}, got {value!r}")
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in pair):
        raise TypeError(f"{name} must be {form}, got {value!r}")
    return int(pair[0]), int(pair[1])


def check_lattice_shape(shape: Any, name: str = "shape") -> tuple[int, int]:
    """``(H, W)`` as two positive Python ints, or a ``TypeError``/``ValueError``
    naming the argument."""
    form = "a pair (H, W) of positive ints"
    dims = check_int_pair(shape, name, form)
    if min(dims) < 1:
        raise ValueError(f"{name} must be {form}, got {shape!r}")
    return dims


def check_int(value: Any, name: str, minimum: int = 1, optional: bool = False) -> int | None:
    """``value`` as an int if it is an integer ``>= minimum`` (or :obj:`None` when
    ``optional``), else a ``TypeError`` (not an int; bools are refused) or a
    ``ValueError`` (below ``minimum``) that names the argument."""
    if value is None and optional:
        return None
    expected = f"an int >= {minimum}" + (" or None" if optional else "")
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def check_number(value: Any, name: str, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` as a float if it is a finite real number ``>= minimum`` (``>`` when
    ``strict``), else a ``TypeError`` (not a number; bools are refused) or a
    ``ValueError`` (NaN, infinite or too small) that names the argument."""
    expected = f"a finite number {'>' if strict else '>='} {minimum:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def as_generator(rng: Any, name: str = "rng") -> np.random.Generator:
    """A numpy Generator from a Generator, an integer seed or ``None``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        if rng is not None and rng < 0:
            raise ValueError(f"{name} as an int seed must be non-negative, got {rng}")
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    raise TypeError(
        f"{name} must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}"
    )
