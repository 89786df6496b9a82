"""Symmetry orbits of basis states, against a brute-force closure under generators."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgnn.magnets import canonical_states, lattice_symmetries, lattice_translation, sz_zero_basis


def _apply(perm: np.ndarray, state: int) -> int:
    return sum(1 << int(perm[i]) for i in range(len(perm)) if (state >> i) & 1)


def _brute_force_orbits(shape: tuple[int, int]) -> dict[int, int]:
    """Orbit label of every S^z = 0 state: closure under one-step translations, the axis
    reflections and, on a square, the transpose (generators of the space group)."""
    h, w = shape
    r, c = np.divmod(np.arange(h * w), w)
    generators = [lattice_translation(shape, (1, 0)), lattice_translation(shape, (0, 1)),
                  ((-r) % h) * w + c, r * w + (-c) % w]  # fmt: skip
    if h == w:
        generators.append(c * w + r)
    label: dict[int, int] = {}
    for s in sz_zero_basis(h * w).tolist():
        if s in label:
            continue
        label[s] = s
        stack = [s]
        while stack:
            t = stack.pop()
            for g in generators:
                u = _apply(g, t)
                if u not in label:
                    label[u] = s
                    stack.append(u)
    return label


@pytest.mark.parametrize("shape", [(4, 4), (2, 4), (4, 2), (2, 6)])
def test_orbits_equal_brute_force(shape: tuple[int, int]) -> None:
    states = sz_zero_basis(shape[0] * shape[1])
    canonical = canonical_states(states, shape)
    brute = _brute_force_orbits(shape)
    # the same partition: as many pairs (label, name) as labels and as names
    pairs = {(brute[s], int(k)) for s, k in zip(states.tolist(), canonical, strict=True)}
    assert len(pairs) == len(set(brute.values())) == len(np.unique(canonical))


def test_canonical_state_is_the_orbit_minimum_on_4x4() -> None:
    states = sz_zero_basis(16)
    canonical = canonical_states(states, (4, 4))
    brute = _brute_force_orbits((4, 4))
    smallest: dict[int, int] = {}
    for s in states.tolist():
        smallest[brute[s]] = min(smallest.get(brute[s], s), s)
    assert all(k == smallest[brute[s]] for s, k in zip(states.tolist(), canonical, strict=True))


def test_group_sizes_and_identity_first() -> None:
    assert lattice_symmetries((4, 4)).shape == (128, 16)  # 16 translations x D4
    assert lattice_symmetries((6, 4)).shape == (96, 24)  # 24 translations x 4
    for shape in [(4, 4), (6, 4), (2, 2)]:
        perms = lattice_symmetries(shape)
        assert np.array_equal(perms[0], np.arange(shape[0] * shape[1]))
        assert all(np.array_equal(np.sort(p), np.arange(p.size)) for p in perms)
        assert len({p.tobytes() for p in perms}) == len(perms)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 95), st.integers(0, 2**24 - 1))
def test_canonical_state_is_invariant_on_6x4(g: int, state: int) -> None:
    perm = lattice_symmetries((6, 4))[g]
    both = canonical_states(np.array([state, _apply(perm, state)]), (6, 4))
    assert both[0] == both[1] <= state


def test_bad_states() -> None:
    with pytest.raises(TypeError, match="states"):
        canonical_states(np.array([1.5]), (2, 2))
    with pytest.raises(ValueError, match="states"):
        canonical_states(np.array([16]), (2, 2))
    with pytest.raises(ValueError, match="states"):
        canonical_states(np.array([-1]), (2, 2))
