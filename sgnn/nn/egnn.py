"""A stack of E(n)-equivariant convolutions with node-, coordinate- and graph-level outputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from torch import Tensor
from torch.nn import Linear, Module, ModuleList, SiLU

from .._checks import check_positive_int
from ._checks import check_channels, check_dtype, check_node_features
from ._mlp import mlp
from ._reset import reset_children
from .egnn_conv import EGNNConv
from .set_readout import SetReadout

__all__ = ["EGNN", "EGNNOutput"]


class EGNNOutput(NamedTuple):
    """Outputs of :class:`EGNN`: invariant node features, positions, velocities
    (velocity variant, else :obj:`None`) and the graph output (or :obj:`None`)."""

    node: Tensor
    pos: Tensor
    vel: Tensor | None
    graph: Tensor | None


class EGNN(Module):
    r"""An E(n)-equivariant graph neural network (Satorras et al., 2021).

    An embedding :math:`\mathbf{h}^0 = W\mathbf{x}`, then ``num_layers``
    :class:`EGNNConv` layers updating features, positions and (in the velocity
    variant) velocities, then an invariant node head and, optionally, a
    permutation-invariant graph readout (:class:`SetReadout`) with its own
    head. Invariant outputs are invariant and positions/velocities equivariant
    under :math:`E(n)` and node permutations, because every layer is.

    In the velocity variant every layer receives the *input* velocities, as
    in Eq. (7) of the paper, :math:`\mathbf{v}_i^{l+1} = \phi_v(\mathbf{h}_i^l)
    \,\mathbf{v}_i^{\text{init}} + C \bigoplus_j (\mathbf{x}_i^l -
    \mathbf{x}_j^l)\,\phi_x(\mathbf{m}_{ij})`, and the last layer's
    velocities are returned.

    Args:
        in_channels (int): Size of each input node feature.
        hidden_channels (int): Size of features and messages in every layer.
        num_layers (int): Number of :class:`EGNNConv` layers.
        out_channels (int, optional): Size of the node output.
            (default: :obj:`None`, ``hidden_channels``)
        graph_channels (int, optional): Size of a graph output.
            (default: :obj:`None`, none)
        graph_aggr (str, optional): Aggregation of the graph readout, see
            :class:`SetReadout`. (default: ``"sum"``)
        act (Callable, optional): Activation. (default: :class:`torch.nn.SiLU`)
        **conv_kwargs: Passed to every :class:`EGNNConv` (``edge_dim``,
            ``velocity``, ``normalize``, ``tanh``, ``attention``, ``aggr``,
            ``coord_aggr``, ``coord_scale``, ``box``, ``edge_chunk_size``).

    Shapes:
        - **input:** node features :math:`(N, F)`, positions :math:`(N, n)`,
          ``edge_index`` :math:`(2, E)`, edge attributes :math:`(E, D)`
          *(optional)*, velocities :math:`(N, n)` *(velocity variant)*,
          ``batch`` :math:`(N,)` *(optional)*
        - **output:** :class:`EGNNOutput`
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int | None = None,
        graph_channels: int | None = None,
        graph_aggr: str = "sum",
        act: Callable[[], Module] = SiLU,
        **conv_kwargs: Any,
    ) -> None:
        super().__init__()
        check_channels(in_channels=in_channels, hidden_channels=hidden_channels)
        if out_channels is not None:
            check_channels(out_channels=out_channels)
        if graph_channels is not None:
            check_channels(graph_channels=graph_channels)
        check_positive_int(num_layers, "num_layers")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.out_channels = out_channels or hidden_channels
        self.graph_channels = graph_channels
        self.velocity = bool(conv_kwargs.get("velocity", False))
        self.embedding = Linear(in_channels, hidden_channels)
        self.convs = ModuleList(
            EGNNConv(hidden_channels, hidden_channels, hidden_channels, act=act, **conv_kwargs)
            for _ in range(num_layers)
        )
        self.head = mlp(hidden_channels, hidden_channels, self.out_channels, act)
        self.readout = SetReadout(hidden_channels, graph_aggr) if graph_channels else None
        self.graph_head = (
            mlp(hidden_channels, hidden_channels, graph_channels, act) if graph_channels else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_children(self)

    def forward(
        self,
        x: Tensor,
        pos: Tensor,
        edge_index: Tensor,
        edge_attr: Tensor | None = None,
        vel: Tensor | None = None,
        batch: Tensor | None = None,
    ) -> EGNNOutput:
        check_node_features(x, self.in_channels, "x")
        check_dtype(self.embedding.weight.dtype, x=x)
        h = self.embedding(x)
        vel_init, vel_out = vel, None
        for conv in self.convs:
            if self.velocity:
                # Eq. (7) of the paper: every layer scales the input velocity.
                h, pos, vel_out = conv(h, pos, edge_index, edge_attr, vel_init)
            else:
                h, pos = conv(h, pos, edge_index, edge_attr)
        graph = None
        if self.readout is not None:
            graph = self.graph_head(self.readout(h, batch))
        return EGNNOutput(self.head(h), pos, vel_out, graph)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, "
            f"num_layers={self.num_layers}, out_channels={self.out_channels}, "
            f"graph_channels={self.graph_channels}, velocity={self.velocity})"
        )
