"""sgnn: symmetry-aware graph neural networks on PyTorch Geometric.

Subpackages:

* :mod:`sgnn.sandpile` -- the Bak–Tang–Wiesenfeld sandpile: simulation, exact
  sampling of the stationary state, observables (numpy + numba, no torch).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
