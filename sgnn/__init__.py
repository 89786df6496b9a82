"""sgnn: symmetry-aware graph neural networks on PyTorch Geometric.

Subpackages (import them explicitly; ``import sgnn`` alone loads neither torch
nor numba):

* :mod:`sgnn.sandpile` -- the Bak–Tang–Wiesenfeld sandpile: simulation, exact
  sampling of the stationary state, observables (numpy + numba, no torch).
* :mod:`sgnn.data` -- lattices and particle sets as PyG graphs, their exact
  coarse-graining hierarchies, transforms, and the sandpile avalanche dataset.
* :mod:`sgnn.nn` -- layers and models equivariant under permutations, E(n),
  lattice symmetries (D4) and coarse-graining.
* :mod:`sgnn.testing` -- equivariance assertions for your own modules.
* :mod:`sgnn.train` -- training loop, metrics, checkpoints and data parallelism.
* :mod:`sgnn.cli` -- the command line, ``python -m sgnn`` or ``sgnn``.
"""

__version__ = "0.3.0"

__all__ = ["__version__"]
