"""A fixed-depth stack of lattice convolutions: the ordinary-GNN baseline on lattices."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor
from torch.nn import Linear, Module, ModuleList, Sequential, SiLU

from ..pool import dilated_edge_key
from ._checks import check_channels
from ._mlp import mlp
from ._reset import reset_children
from .lattice_conv import LatticeConv
from .set_readout import SetReadout

__all__ = ["LatticeGNN"]


class LatticeGNN(Module):
    r"""An encoder, residual :class:`LatticeConv` layers, and a node head.

    .. math::
        \mathbf{h}^{(0)} = \sigma(E\mathbf{x}), \qquad
        \mathbf{h}^{(\ell)} = \mathbf{h}^{(\ell-1)} + \sigma\big(
            \text{LatticeConv}_\ell(\mathbf{h}^{(\ell-1)}, \mathcal{E}_{d_\ell})\big),
        \qquad \mathbf{y} = \text{MLP}(\mathbf{h}^{(L)}),

    where layer :math:`\ell` passes messages along the edges
    :math:`\mathcal{E}_{d_\ell}` of the lattice dilated by :math:`d_\ell`
    (``lattice_graph(shape, dilation=d)``). With every :math:`d_\ell = 1` this
    is an ordinary local GNN whose receptive field has radius :math:`L`; with
    :math:`d_\ell = 1, 2, 4, 8` it is the "stack of dilated convolutions" of
    invariant multiscale networks, whose receptive field grows
    exponentially with depth but is still fixed. Unlike :class:`RGNet`,
    neither adapts to the lattice size. Both are :math:`D_4`- and
    permutation-equivariant.

    With ``graph_aggr`` the hidden states are pooled over each graph before
    the head, :math:`\mathbf{y}_G = \text{MLP}\big(\bigoplus_{i \in G}
    \mathbf{h}_i^{(L)}\big)`: on a periodic lattice an *invariant* network
    (translations and :math:`D_4`), the "invariant CNN with global pooling" of
    `Schurov et al. (2024) <https://arxiv.org/abs/2406.08318>`_.

    Args:
        in_channels (int): Size of each input node feature.
        hidden_channels (int): Size of the hidden state.
        out_channels (int): Size of each node output.
        dilations (Sequence[int], optional): One dilation per layer.
            (default: ``(1, 1, 1, 1)``)
        act (Callable, optional): Activation. (default: :class:`torch.nn.SiLU`)
        graph_aggr (str, optional): ``"sum"``, ``"mean"``, ``"max"`` or
            ``"attention"`` (:class:`SetReadout`) for one output per graph.
            (default: :obj:`None`, one output per node)

    Shapes:
        - **input:** a ``Data`` (or batch) with ``x`` of shape
          :math:`(N, F_{in})`, ``edge_index``, and for every dilation
          :math:`d > 1` the edges under :func:`~sgnn.pool.dilated_edge_key` ``(d)``
          (:class:`~sgnn.data.AddDilatedEdges` adds them); ``batch``
          :math:`(N,)` with ``graph_aggr``
        - **output:** :math:`(N, F_{out})`, or :math:`(B, F_{out})` with
          ``graph_aggr``
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        dilations: Sequence[int] = (1, 1, 1, 1),
        act: Callable[[], Module] = SiLU,
        graph_aggr: str | None = None,
    ) -> None:
        super().__init__()
        check_channels(in_channels=in_channels, hidden_channels=hidden_channels,
                       out_channels=out_channels)
        dilations = tuple(dilations)
        if not dilations or any(isinstance(d, bool) or not isinstance(d, int) or d < 1
                                for d in dilations):  # fmt: skip
            raise ValueError(f"dilations must be a non-empty sequence of positive ints, "
                             f"got {dilations!r}")  # fmt: skip
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.dilations = dilations
        self.encoder = Sequential(Linear(in_channels, hidden_channels), act())
        self.convs = ModuleList(LatticeConv(hidden_channels, hidden_channels) for _ in dilations)
        self.act = act()
        self.graph_aggr = graph_aggr
        self.readout = None if graph_aggr is None else SetReadout(hidden_channels, graph_aggr)
        self.head = mlp(hidden_channels, hidden_channels, out_channels, act)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_children(self)

    def forward(self, data: Any) -> Tensor:
        x = data.x
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"data.x must have shape (N, {self.in_channels}), got "
                             f"{tuple(x.shape)}")  # fmt: skip
        h = self.encoder(x)
        for d, conv in zip(self.dilations, self.convs, strict=True):
            key = dilated_edge_key(d)
            if key not in data:
                raise ValueError(f"data has no {key!r}: apply sgnn.data.AddDilatedEdges("
                                 f"{list(self.dilations)})")  # fmt: skip
            h = h + self.act(conv(h, data[key]))
        if self.readout is not None:
            h = self.readout(h, data.batch if "batch" in data else None)
        return self.head(h)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, "
            f"{self.out_channels}, dilations={list(self.dilations)}"
            + ("" if self.graph_aggr is None else f", graph_aggr={self.graph_aggr!r}") + ")"
        )
