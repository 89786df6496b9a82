r"""Lattices and particle sets as PyG graphs, and their coarse-graining hierarchies."""

from .datasets import SandpileAvalanches
from .hierarchy import (
    HierarchicalData,
    Hierarchy,
    coarse_grain,
    coarse_grain_hierarchy,
    refine,
)
from .lattice import lattice_graph, sandpile_to_data
from .particles import particle_hierarchy, particles_to_data
from .transforms import AddHierarchy, LatticeSymmetry, RandomLatticeSymmetry, lattice_symmetry

__all__ = [
    "AddHierarchy",
    "HierarchicalData",
    "Hierarchy",
    "LatticeSymmetry",
    "RandomLatticeSymmetry",
    "SandpileAvalanches",
    "coarse_grain",
    "coarse_grain_hierarchy",
    "lattice_graph",
    "lattice_symmetry",
    "particle_hierarchy",
    "particles_to_data",
    "refine",
    "sandpile_to_data",
]
