r"""Frustrated quantum magnets: exact diagonalisation of the spin-1/2 :math:`J_1`--:math:`J_2`
Heisenberg model on periodic square clusters. numpy, scipy and numba only (no torch)."""

from .heisenberg import (
    GroundState,
    heisenberg_bonds,
    heisenberg_ground_state,
    heisenberg_hamiltonian,
    lattice_translation,
    marshall_sign,
    state_spins,
    symmetry_eigenvalue,
    sz_zero_basis,
)
from .symmetry import canonical_states, lattice_symmetries

__all__ = [
    "GroundState",
    "canonical_states",
    "heisenberg_bonds",
    "heisenberg_ground_state",
    "heisenberg_hamiltonian",
    "lattice_symmetries",
    "lattice_translation",
    "marshall_sign",
    "state_spins",
    "symmetry_eigenvalue",
    "sz_zero_basis",
]
