"""Equivariant layers and models as PyG modules.

* permutation: :class:`DeepSetsLayer`, :class:`PairwiseSetConv`, :class:`SetReadout`;
* E(n): :class:`EGNNConv`, :class:`EGNN`;
* lattice (D4): :class:`LatticeConv`, and the baseline stack :class:`LatticeGNN`;
* coarse-graining: :class:`RGNet`;
* recurrence: :class:`Recurrent` (weight-tied, run until the state settles, with a
  budget scaled by :func:`graph_diameter_bound`) and the local rule :class:`AutomatonConv`;
* building blocks: :class:`ChunkedMessagePassing`, the cache-sized fused edge loop
  of the layers above, and :func:`edge_pairs`.
"""

from .automaton_conv import AutomatonConv
from .chunked import ChunkedMessagePassing, edge_pairs
from .deepsets import DeepSetsLayer
from .egnn import EGNN, EGNNOutput
from .egnn_conv import EGNNConv
from .lattice_conv import LatticeConv
from .lattice_gnn import LatticeGNN
from .pairwise_set_conv import PairwiseSetConv
from .recurrent import Recurrent, RecurrentOutput, graph_diameter_bound
from .rgnet import RGNet, RGNetOutput
from .set_readout import SetReadout

__all__ = [
    "EGNN",
    "AutomatonConv",
    "ChunkedMessagePassing",
    "DeepSetsLayer",
    "EGNNConv",
    "EGNNOutput",
    "LatticeConv",
    "LatticeGNN",
    "PairwiseSetConv",
    "RGNet",
    "RGNetOutput",
    "Recurrent",
    "RecurrentOutput",
    "SetReadout",
    "edge_pairs",
    "graph_diameter_bound",
]
