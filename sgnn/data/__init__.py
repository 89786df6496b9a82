r"""Lattices and particle sets as PyG graphs, and their coarse-graining hierarchies."""

# Moved to the torch-only sgnn.pool in 0.2; importable from here as before.
from ..pool import coarse_grain, dilated_edge_key, refine  # noqa: F401
from .batching import equal_size_batch
from .datasets import SandpileAvalanches, avalanche_to_data
from .heisenberg import HeisenbergSigns, spin_batch
from .hierarchy import HierarchicalData, Hierarchy, coarse_grain_hierarchy
from .lattice import data_lattice_shape, lattice_graph, sandpile_to_data
from .nbody import NBodyCharged, charged_energy, charged_forces, simulate_charged
from .particles import particle_hierarchy, particles_to_data
from .simulated import SimulatedDataset
from .transforms import (
    AddDilatedEdges,
    AddHierarchy,
    LatticeSymmetry,
    RandomLatticeSymmetry,
    lattice_symmetry,
)

__all__ = [
    "AddDilatedEdges",
    "AddHierarchy",
    "HeisenbergSigns",
    "HierarchicalData",
    "Hierarchy",
    "LatticeSymmetry",
    "NBodyCharged",
    "RandomLatticeSymmetry",
    "SandpileAvalanches",
    "SimulatedDataset",
    "avalanche_to_data",
    "charged_energy",
    "charged_forces",
    "coarse_grain_hierarchy",
    "data_lattice_shape",
    "equal_size_batch",
    "lattice_graph",
    "lattice_symmetry",
    "particle_hierarchy",
    "particles_to_data",
    "sandpile_to_data",
    "simulate_charged",
    "spin_batch",
]
