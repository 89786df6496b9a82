r"""Lattices and particle sets as PyG graphs, and their coarse-graining hierarchies."""

from .batching import equal_size_batch
from .datasets import SandpileAvalanches, avalanche_to_data
from .heisenberg import HELD_OUT_ORBIT_SHARE, HeisenbergSigns, held_out_orbits, spin_batch
from .hierarchy import HierarchicalData, Hierarchy, Level, coarse_grain_hierarchy
from .lattice import (
    DROP_SITE_COLUMN,
    HEIGHT_COLUMNS,
    MISSING_COLUMN,
    data_lattice_shape,
    lattice_graph,
    sandpile_heights,
    sandpile_to_data,
)
from .nbody import NBodyCharged, charged_energy, charged_forces, simulate_charged
from .particles import particle_hierarchy, particles_to_data
from .photonic import PhotonicCrystals, cell_to_data
from .simulated import SimulatedDataset
from .transforms import (
    AddDilatedEdges,
    AddHierarchy,
    LatticeSymmetry,
    RandomLatticeSymmetry,
    lattice_symmetry,
)

__all__ = [
    "DROP_SITE_COLUMN",
    "HEIGHT_COLUMNS",
    "HELD_OUT_ORBIT_SHARE",
    "MISSING_COLUMN",
    "AddDilatedEdges",
    "AddHierarchy",
    "HeisenbergSigns",
    "HierarchicalData",
    "Hierarchy",
    "LatticeSymmetry",
    "Level",
    "NBodyCharged",
    "PhotonicCrystals",
    "RandomLatticeSymmetry",
    "SandpileAvalanches",
    "SimulatedDataset",
    "avalanche_to_data",
    "cell_to_data",
    "charged_energy",
    "charged_forces",
    "coarse_grain_hierarchy",
    "data_lattice_shape",
    "equal_size_batch",
    "held_out_orbits",
    "lattice_graph",
    "lattice_symmetry",
    "particle_hierarchy",
    "particles_to_data",
    "sandpile_heights",
    "sandpile_to_data",
    "simulate_charged",
    "spin_batch",
]

# Moved to the torch-only sgnn.pool in sgnn 0.2; importable from here, with a
# DeprecationWarning since 0.4, until 0.5.
_MOVED_TO_POOL = frozenset({"coarse_grain", "dilated_edge_key", "refine"})


def __getattr__(name: str) -> object:
    if name in _MOVED_TO_POOL:
        import warnings

        from .. import pool

        warnings.warn(f"sgnn.data.{name} moved to sgnn.pool.{name} in sgnn 0.2; the old name "
                      "goes in sgnn 0.5", DeprecationWarning, stacklevel=2)  # fmt: skip
        return getattr(pool, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
