"""sgnn: symmetry-aware graph neural networks on PyTorch Geometric.

Subpackages, from the bottom layer up (each imports only those above it in this list;
import them explicitly: ``import sgnn`` alone loads neither torch nor numba):

* :mod:`sgnn.sandpile` -- the Bak–Tang–Wiesenfeld sandpile: simulation, exact
  sampling of the stationary state, observables (numpy + numba, no torch).
* :mod:`sgnn.magnets` -- exact ground states of the :math:`J_1`--:math:`J_2`
  Heisenberg model on small periodic clusters, their sign structure (numpy, scipy).
* :mod:`sgnn.pool` -- coarse-graining and refinement of lattice features (torch only).
* :mod:`sgnn.data` -- lattices and particle sets as PyG graphs, their exact
  coarse-graining hierarchies, transforms, and the sandpile, n-body and
  Heisenberg-sign datasets.
* :mod:`sgnn.nn` -- layers and models equivariant under permutations, E(n),
  lattice symmetries (D4) and coarse-graining, and weight-tied recurrence.
* :mod:`sgnn.testing` -- equivariance assertions for your own modules.
* :mod:`sgnn.train` -- training loop, metrics, checkpoints and data parallelism
  (generic: nothing about sandpiles).
* :mod:`sgnn.tasks` -- the sandpile and sign tasks: model zoo, losses, metrics,
  the recurrent sandpile models and their verified local rules.
* :mod:`sgnn.bandits` -- batched multi-armed bandits, reference policies and
  permutation-equivariant learned policies.
* :mod:`sgnn.cli` -- the command line, ``python -m sgnn`` or ``sgnn``.

Modules whose name starts with an underscore (``sgnn._checks``, ``sgnn.nn._checks``,
...) are private helpers of the layers above them, not API.
"""

__version__ = "0.3.0"

__all__ = ["__version__"]
