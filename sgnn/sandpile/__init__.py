r"""The Bak–Tang–Wiesenfeld sandpile: simulation, exact sampling and observables.

Pure numpy + numba (no torch). Configurations live on the open-boundary square
lattice (2-D integer arrays) or on any :class:`SandpileGraph` with a sink.
"""

from .engine import Avalanche, AvalancheStats, add_grain, avalanche_sizes, drive, relax
from .exact import identity, is_recurrent, sample_recurrent
from .graph import SandpileGraph
from .observables import (
    expected_avalanche_size,
    height_probabilities,
    square_lattice_height_probabilities,
)
from .samples import avalanche_sample

__all__ = [
    "Avalanche",
    "AvalancheStats",
    "SandpileGraph",
    "add_grain",
    "avalanche_sample",
    "avalanche_sizes",
    "drive",
    "expected_avalanche_size",
    "height_probabilities",
    "identity",
    "is_recurrent",
    "relax",
    "sample_recurrent",
    "square_lattice_height_probabilities",
]
