r"""Lattices and particle sets as PyG graphs, and their coarse-graining hierarchies."""

from .datasets import SandpileAvalanches, avalanche_to_data
from .hierarchy import (
    HierarchicalData,
    Hierarchy,
    coarse_grain,
    coarse_grain_hierarchy,
    refine,
)
from .lattice import lattice_graph, sandpile_to_data
from .nbody import NBodyCharged, charged_energy, charged_forces, simulate_charged
from .particles import particle_hierarchy, particles_to_data
from .transforms import (
    AddDilatedEdges,
    AddHierarchy,
    LatticeSymmetry,
    RandomLatticeSymmetry,
    dilated_edge_key,
    lattice_symmetry,
)

__all__ = [
    "AddDilatedEdges",
    "AddHierarchy",
    "HierarchicalData",
    "Hierarchy",
    "LatticeSymmetry",
    "NBodyCharged",
    "RandomLatticeSymmetry",
    "SandpileAvalanches",
    "avalanche_to_data",
    "charged_energy",
    "charged_forces",
    "coarse_grain",
    "coarse_grain_hierarchy",
    "dilated_edge_key",
    "lattice_graph",
    "lattice_symmetry",
    "particle_hierarchy",
    "particles_to_data",
    "refine",
    "sandpile_to_data",
    "simulate_charged",
]
