"""An isotropic, hence D4-equivariant, convolution on lattice graphs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor
from torch.nn import Module, SiLU
from torch_geometric.typing import Adj

from ._checks import AGGRS, check_choice, check_dtype
from ._pair_message import PairMessagePassing

__all__ = ["LatticeConv"]


class LatticeConv(PairMessagePassing):
    r"""Message passing on a lattice with isotropic messages.

    .. math::
        \mathbf{x}_i' = \Theta \mathbf{x}_i + \bigoplus_{j \in \mathcal{N}(i)}
            W_2\, \sigma\big(A \mathbf{x}_i + B \mathbf{x}_j + \mathbf{b}_1\big)
            + \mathbf{b}_2 .

    The message does not depend on the direction of the edge, so the layer
    commutes with every symmetry of the lattice graph that it is given: on
    the square lattice (:func:`~sgnn.data.lattice_graph`) with the 8 elements
    of :math:`D_4`, acting on nodes by permutation
    (:func:`~sgnn.data.lattice_symmetry`), and with node permutations in
    general. With ``mean`` aggregation boundary sites see the average of their
    fewer neighbours.

    Dilated convolutions, the "stacks of dilated convolutions" of invariant
    multiscale networks, use the edges of
    ``lattice_graph(shape, dilation=2**k)``. Store such an edge list in a
    ``Data`` under a key containing ``"index"`` (say ``edge_index_d4``) and
    PyG's batching offsets it like ``edge_index``.

    Args:
        in_channels (int): Size of each input node feature.
        out_channels (int): Size of each output node feature.
        hidden_channels (int, optional): Hidden units of the message network.
            (default: :obj:`None`, ``out_channels``)
        aggr (str, optional): ``"sum"``, ``"mean"`` or ``"max"``.
            (default: ``"mean"``)
        act (Callable, optional): :math:`\sigma`. (default: :class:`torch.nn.SiLU`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing` (``flow``).

    ``x`` must have the dtype of the parameters (a ``TypeError`` otherwise, except
    under :func:`torch.autocast`); its values are not checked: NaN propagates.

    Shapes:
        - **input:** node features :math:`(N, F_{in})`, ``edge_index``
          :math:`(2, E)`
        - **output:** :math:`(N, F_{out})`
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int | None = None,
        aggr: str = "mean",
        act: Callable[[], Module] = SiLU,
        **kwargs: Any,
    ) -> None:
        check_choice("aggr", aggr, AGGRS)
        super().__init__(in_channels, out_channels, hidden_channels, aggr, act,
                         with_difference=False, **kwargs)  # fmt: skip
        self.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        if isinstance(x, Tensor):
            check_dtype(self.lin_root.weight.dtype, x=x)
        return self.propagate_pairs(x, edge_index)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
            f"hidden_channels={self.hidden_channels}, aggr={self.aggr})"
        )
