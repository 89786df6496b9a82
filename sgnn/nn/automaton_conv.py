"""One step of a learned cellular automaton on a graph: the body of recurrent models."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import Linear, Module, ModuleList, SiLU
from torch_geometric.nn import MessagePassing
from torch_geometric.typing import Adj
from torch_geometric.utils import spmm

from ._checks import AGGRS, check_channels, check_choice, check_edge_index, check_node_features

__all__ = ["AutomatonConv"]


class AutomatonConv(MessagePassing):
    r"""A learned local update rule: the next state of a node from its input, its
    state and the aggregated states of its neighbours.

    .. math::
        \mathbf{u}_i = \text{MLP}\Big(\mathbf{x}_i \,\Big\|\, \mathbf{s}_i
            \,\Big\|\, \bigoplus_{j \in \mathcal{N}(i)} \mathbf{s}_j\Big),

    where :math:`\mathbf{x}` is a static input (re-injected at every step of a
    recurrence, the *recall* of Bansal et al. 2022), :math:`\mathbf{s}` the
    current state and :math:`\bigoplus` a sum, mean or max. With one-hot or
    binary states and ``aggr="sum"``, :math:`\bigoplus_j \mathbf{s}_j` counts
    the neighbours in each state, the sufficient statistic of an
    outer-totalistic cellular automaton (the sandpile's toppling rule is one),
    so a wide enough MLP represents any such rule exactly. Iterated by
    :class:`~sgnn.nn.Recurrent`, it runs the automaton until its state settles.

    The update does not depend on the direction of an edge, so the layer
    commutes with every node permutation and, on the square lattice, with the
    8 symmetries of :math:`D_4`: permuting or transforming the nodes of
    :math:`\mathbf{x}` and :math:`\mathbf{s}` permutes :math:`\mathbf{u}` alike.
    Its receptive field is one hop (``num_hops = 1`` for :class:`Recurrent`).

    Args:
        in_channels (int): Size of the static input :math:`\mathbf{x}_i`
            (may be 0).
        state_channels (int): Size of the state :math:`\mathbf{s}_i`.
        out_channels (int, optional): Size of :math:`\mathbf{u}_i`.
            (default: :obj:`None`, ``state_channels``)
        hidden_channels (int, optional): Width of the MLP's hidden layers.
            (default: ``32``)
        num_layers (int, optional): Linear layers of the MLP, at least 1 (a
            single linear map, a linear-threshold rule once discretised).
            (default: ``2``)
        aggr (str, optional): ``"sum"``, ``"mean"`` or ``"max"``.
            (default: ``"sum"``)
        act (Callable, optional): Activation between the MLP's layers.
            (default: :class:`torch.nn.SiLU`)

    Shapes:
        - **input:** ``x`` :math:`(N, F_{in})`, ``state`` :math:`(N, S)`,
          ``edge_index`` :math:`(2, E)` or a sparse adjacency
          :math:`(N, N)`
        - **output:** :math:`(N, F_{out})`
    """

    #: Receptive field in hops, read by :class:`~sgnn.nn.Recurrent` for sparse iteration.
    num_hops: int = 1

    def __init__(
        self,
        in_channels: int,
        state_channels: int,
        out_channels: int | None = None,
        hidden_channels: int = 32,
        num_layers: int = 2,
        aggr: str = "sum",
        act: Callable[[], Module] = SiLU,
    ) -> None:
        check_choice("aggr", aggr, AGGRS)
        super().__init__(aggr=aggr)
        out_channels = state_channels if out_channels is None else out_channels
        check_channels(in_channels=in_channels, minimum=0)
        check_channels(state_channels=state_channels, out_channels=out_channels,
                       hidden_channels=hidden_channels, num_layers=num_layers)  # fmt: skip
        self.in_channels = in_channels
        self.state_channels = state_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        sizes = [in_channels + 2 * state_channels] + [hidden_channels] * (num_layers - 1)
        self.lins = ModuleList(Linear(a, b) for a, b in zip(sizes, [*sizes[1:], out_channels],
                                                            strict=True))  # fmt: skip
        self.act = act()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for lin in self.lins:
            lin.reset_parameters()

    def forward(self, x: Tensor, state: Tensor, edge_index: Adj) -> Tensor:
        n = state.size(0) if state.dim() == 2 else -1
        check_node_features(state, self.state_channels, "state")
        check_node_features(x, self.in_channels, "x", num_nodes=n)
        check_edge_index(edge_index, n)
        neighbours = self.propagate(edge_index, s=state, size=(n, n))
        h = torch.cat([x, state, neighbours], dim=1)
        for k, lin in enumerate(self.lins):
            h = lin(h)
            if k < self.num_layers - 1:
                h = self.act(h)
        return h

    def message(self, s_j: Tensor) -> Tensor:
        return s_j

    def message_and_aggregate(self, adj_t: Adj, s: Tensor) -> Tensor:
        return spmm(adj_t, s, reduce=self.aggr)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.state_channels}, "
                f"{self.out_channels}, hidden_channels={self.hidden_channels}, "
                f"num_layers={self.num_layers}, aggr={self.aggr})")  # fmt: skip
