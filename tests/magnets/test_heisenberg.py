"""Exact diagonalisation of the J1-J2 Heisenberg model against published energies, a dense
Kronecker-product Hamiltonian, Marshall's rule and the lattice symmetries."""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
import pytest
import scipy.sparse

from sgnn.magnets import (
    heisenberg_bonds,
    heisenberg_ground_state,
    heisenberg_hamiltonian,
    lattice_translation,
    marshall_sign,
    state_spins,
    symmetry_eigenvalue,
    sz_zero_basis,
)

_SX = np.array([[0, 1], [1, 0]]) / 2
_SY = np.array([[0, -1j], [1j, 0]]) / 2
_SZ = np.array([[1, 0], [0, -1]]) / 2


def _site_operator(op: np.ndarray, site: int, n: int) -> scipy.sparse.csr_matrix:
    # Basis index bit i is spin i, 1 = up; np.kron's first factor is the highest bit, and
    # the bit value 1 is the second basis vector, so S^z = diag(-1/2, +1/2) per factor.
    flip = np.array([[0, 1], [1, 0]])
    factors = [flip @ op @ flip if k == site else np.eye(2) for k in reversed(range(n))]
    return reduce(lambda a, b: scipy.sparse.kron(a, b, format="csr"), factors)


def _dense_hamiltonian(shape: tuple[int, int], j1: float, j2: float) -> np.ndarray:
    """S_i . S_j summed over the bonds of the infinite lattice, by Kronecker products, in the
    full 2**N space: shares nothing with sgnn but the site numbering."""
    h, w = shape
    n = h * w
    ham = scipy.sparse.csr_matrix((2**n, 2**n), dtype=complex)
    for coupling, dirs in ((j1, ((0, 1), (1, 0))), (j2, ((1, 1), (1, -1)))):
        for r in range(h):
            for c in range(w):
                for dr, dc in dirs:
                    a, b = r * w + c, ((r + dr) % h) * w + (c + dc) % w
                    for op in (_SX, _SY, _SZ):
                        ham = ham + coupling * (_site_operator(op, a, n)
                                                @ _site_operator(op, b, n))  # fmt: skip
    return ham.toarray()


@pytest.mark.parametrize(("j2", "energy"), [(0.0, -11.228483), (0.5, -8.457923)])
def test_4x4_energies(j2: float, energy: float) -> None:
    gs = heisenberg_ground_state((4, 4), j2=j2, progress=False)
    assert gs.energy == pytest.approx(energy, abs=1e-6)
    assert np.sum(gs.probabilities) == pytest.approx(1.0, abs=1e-12)
    # An eigenvector: the residual of H psi = E psi.
    ham = heisenberg_hamiltonian((4, 4), j2=j2, progress=False)
    assert np.abs(ham @ gs.amplitudes - gs.energy * gs.amplitudes).max() < 1e-7


@pytest.mark.parametrize("shape", [(2, 4), (3, 4)])
@pytest.mark.parametrize(("j1", "j2"), [(1.0, 0.0), (1.0, 0.5), (0.7, -0.3), (0.0, 1.0)])
def test_energies_match_dense_diagonalisation(shape: tuple[int, int], j1: float,
                                               j2: float) -> None:  # fmt: skip
    n = shape[0] * shape[1]
    dense = _dense_hamiltonian(shape, j1, j2)
    sz0 = sz_zero_basis(n)
    block = dense[np.ix_(sz0, sz0)]
    assert np.abs(block.imag).max() < 1e-12
    # The sparse S^z = 0 Hamiltonian is exactly the dense one's block ...
    sparse = heisenberg_hamiltonian(shape, j1, j2, progress=False).toarray()
    np.testing.assert_allclose(sparse, block.real, atol=1e-12)
    # ... and the block's lowest level is the ground state energy.
    exact = np.linalg.eigvalsh(block.real)
    gs = heisenberg_ground_state(shape, j1, j2, progress=False)
    assert gs.energy == pytest.approx(exact[0], abs=1e-8)
    assert gs.gap == pytest.approx(exact[1] - exact[0], abs=1e-7)


@pytest.mark.parametrize("shape", [(4, 4), (2, 4), (4, 2)])
def test_marshall_rule_at_j2_zero(shape: tuple[int, int]) -> None:
    gs = heisenberg_ground_state(shape, j2=0.0, progress=False)
    marshall = marshall_sign(gs.states, shape)
    # Every amplitude is nonzero and carries Marshall's sign (the global sign is fixed so
    # that the leading, Neel-like, amplitude is positive: both agree there).
    assert np.abs(gs.amplitudes).min() > 1e-8
    assert np.array_equal(gs.signs, marshall)


def test_frustration_breaks_marshall_rule() -> None:
    gs = heisenberg_ground_state((4, 4), j2=0.5, progress=False)
    agree = np.sum(gs.probabilities[gs.signs == marshall_sign(gs.states, (4, 4))])
    assert 0.5 < agree < 1.0 - 1e-3


def test_symmetries_and_global_sign() -> None:
    gs = heisenberg_ground_state((4, 4), j2=0.0, progress=False)
    for shift in [(0, 1), (1, 0), (1, 3)]:
        assert symmetry_eigenvalue(gs, lattice_translation((4, 4), shift)) == pytest.approx(1.0)
    # Spin inversion is no site permutation; flipping every bit maps psi to +-psi.
    flipped = np.searchsorted(gs.states, (1 << 16) - 1 - gs.states)
    assert abs(np.dot(gs.amplitudes[flipped], gs.amplitudes)) == pytest.approx(1.0)
    # The first state of largest |psi| is positive, independent of the Lanczos start.
    other = heisenberg_ground_state((4, 4), j2=0.0, seed=7, progress=False)
    np.testing.assert_allclose(other.amplitudes, gs.amplitudes, atol=1e-8)


def test_bonds_and_basis() -> None:
    i, j, coupling = heisenberg_bonds((4, 4), 1.0, 0.5)
    assert len(coupling) == 64 and np.all(i < j)
    assert sorted(set(coupling.tolist())) == [0.5, 1.0]
    # On a side of length 2 the wrapped bond is the direct one: couplings add up.
    _, _, c2 = heisenberg_bonds((2, 4), 1.0, 0.0)
    assert sorted(c2.tolist()) == [1.0] * 8 + [2.0] * 4
    basis = sz_zero_basis(8)
    assert len(basis) == math.comb(8, 4) and np.all(np.diff(basis) > 0)
    assert all(bin(s).count("1") == 4 for s in basis)
    spins = state_spins(np.array([0b0101]), (2, 2))
    assert spins.tolist() == [[[1, -1], [1, -1]]]
    # Marshall's sign counts up spins where r + c is even: (0,0) and (1,1) here.
    assert marshall_sign(np.array([0b0001, 0b0011, 0b1001]), (2, 2)).tolist() == [-1, -1, 1]


def test_cache_is_keyed_and_atomic(tmp_path) -> None:
    a = heisenberg_ground_state((2, 4), j2=0.3, root=tmp_path, progress=False)
    b = heisenberg_ground_state((2, 4), j2=0.3, root=tmp_path, progress=False)
    files = list((tmp_path / "heisenberg").iterdir())
    assert len(files) == 1 and not any(".tmp" in f.name for f in files)
    np.testing.assert_array_equal(a.amplitudes, b.amplitudes)
    c = heisenberg_ground_state((2, 4), j2=0.3000001, root=tmp_path, progress=False)
    assert len(list((tmp_path / "heisenberg").iterdir())) == 2 and c.energy != a.energy
    files[0].write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match="unreadable"):
        d = heisenberg_ground_state((2, 4), j2=0.3, root=tmp_path, progress=False)
    assert d.energy == pytest.approx(a.energy, abs=1e-12)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"shape": (3, 3)}, ValueError, "even number of sites"),
    ({"shape": (1, 4)}, ValueError, "both sides >= 2"),
    ({"shape": (6, 6)}, ValueError, "at most 30 sites"),
    ({"shape": (4,)}, ValueError, "pair"),
    ({"shape": (4, 4), "j2": float("nan")}, ValueError, "j2 must be finite"),
    ({"shape": (4, 4), "j1": "1"}, TypeError, "j1 must be a real number"),
    ({"shape": (4, 4), "j1": True}, TypeError, "j1 must be a real number"),
    ({"shape": (4, 4), "j1": 0.0, "j2": 0.0}, ValueError, "both be zero"),
    ({"shape": (4, 4), "tol": 0.0}, ValueError, "tol"),
])  # fmt: skip
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        heisenberg_ground_state(progress=False, **kwargs)


def test_bad_states_and_permutations() -> None:
    gs = heisenberg_ground_state((2, 4), progress=False)
    with pytest.raises(ValueError, match="permutation of the 8 sites"):
        symmetry_eigenvalue(gs, np.zeros(8, dtype=int))
    with pytest.raises(TypeError, match="integer array"):
        state_spins(np.array([0.5]), (2, 4))
    with pytest.raises(ValueError, match="bit strings of 8 sites"):
        marshall_sign(np.array([256]), (2, 4))
    with pytest.raises(ValueError, match="num_sites must be even"):
        sz_zero_basis(7)
    assert isinstance(heisenberg_hamiltonian((2, 4), progress=False), scipy.sparse.csr_matrix)


def test_translation_shift_must_be_integer() -> None:
    for shift in ((1.5, 0), (1.0, 0), (True, 0)):
        with pytest.raises(TypeError, match=r"shift must be a pair \(dr, dc\) of ints"):
            lattice_translation((4, 4), shift)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shift must be a pair"):
        lattice_translation((4, 4), (1, 0, 0))  # type: ignore[arg-type]
    np.testing.assert_array_equal(lattice_translation((2, 2), (np.int64(1), -1)), [3, 2, 1, 0])


def test_cache_root_under_a_file_names_root(tmp_path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for root in (blocker, blocker / "data"):
        with pytest.raises(ValueError, match=r"root .* (is a file|is under a file)"):
            heisenberg_ground_state((2, 4), root=root, progress=False)
