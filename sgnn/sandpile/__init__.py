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
from .warm_up import compile_kernels
from .waves import (
    AvalancheActivity,
    AvalancheWaves,
    avalanche_activity,
    avalanche_waves,
    first_wave,
    wave_sizes,
)

__all__ = [
    "Avalanche",
    "AvalancheActivity",
    "AvalancheStats",
    "AvalancheWaves",
    "SandpileGraph",
    "add_grain",
    "avalanche_activity",
    "avalanche_sample",
    "avalanche_sizes",
    "avalanche_waves",
    "compile_kernels",
    "drive",
    "expected_avalanche_size",
    "first_wave",
    "height_probabilities",
    "identity",
    "is_recurrent",
    "relax",
    "sample_recurrent",
    "square_lattice_height_probabilities",
    "wave_sizes",
]
