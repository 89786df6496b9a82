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

__all__ = [
    "GroundState",
    "heisenberg_bonds",
    "heisenberg_ground_state",
    "heisenberg_hamiltonian",
    "lattice_translation",
    "marshall_sign",
    "state_spins",
    "symmetry_eigenvalue",
    "sz_zero_basis",
]
