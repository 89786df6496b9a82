"""Equivariant layers and models as PyG modules.

* permutation: :class:`DeepSetsLayer`, :class:`PairwiseSetConv`, :class:`SetReadout`;
* E(n): :class:`EGNNConv`, :class:`EGNN`;
* lattice (D4): :class:`LatticeConv`, and the baseline stack :class:`LatticeGNN`;
* coarse-graining: :class:`RGNet`.
"""

from .deepsets import DeepSetsLayer
from .egnn import EGNN, EGNNOutput
from .egnn_conv import EGNNConv
from .lattice_conv import LatticeConv
from .lattice_gnn import LatticeGNN
from .pairwise_set_conv import PairwiseSetConv
from .rgnet import RGNet
from .set_readout import SetReadout

__all__ = [
    "EGNN",
    "DeepSetsLayer",
    "EGNNConv",
    "EGNNOutput",
    "LatticeConv",
    "LatticeGNN",
    "PairwiseSetConv",
    "RGNet",
    "SetReadout",
]
