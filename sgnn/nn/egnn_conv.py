"""The E(n)-equivariant graph convolution of Satorras, Hoogeboom and Welling (2021)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import Linear, Module, Sequential, SiLU
from torch_geometric.typing import Adj
from torch_geometric.utils import scatter

from .._checks import check_number
from ._checks import AGGRS, check_channels, check_choice, check_dtype, check_finite
from ._reset import reset_children
from .chunked import ChunkedMessagePassing

__all__ = ["EGNNConv"]


class EGNNConv(ChunkedMessagePassing):
    r"""The E(n)-equivariant graph convolution from `"E(n) Equivariant Graph
    Neural Networks" <https://arxiv.org/abs/2102.09844>`_ (Satorras et al.,
    2021).

    For every edge :math:`(j, i)` (message from :math:`j` to :math:`i`):

    .. math::
        \mathbf{m}_{ij} &= \phi_e\left(\mathbf{h}_i, \mathbf{h}_j,
            \|\mathbf{x}_i - \mathbf{x}_j\|^2, \mathbf{a}_{ij}\right)

        \mathbf{x}_i' &= \mathbf{x}_i + C \bigoplus_{j \in \mathcal{N}(i)}
            (\mathbf{x}_i - \mathbf{x}_j)\, \phi_x(\mathbf{m}_{ij})

        \mathbf{h}_i' &= \phi_h\Big(\mathbf{h}_i, \bigodot_{j \in \mathcal{N}(i)}
            \mathbf{m}_{ij}\Big),

    with :math:`\bigoplus` a sum or a mean (``coord_aggr``) and :math:`\bigodot`
    a sum (the paper's), mean or max (``aggr``). In the velocity variant
    (EGNN-vel), :math:`\mathbf{v}_i' = \phi_v(\mathbf{h}_i)\,\mathbf{v}_i +
    C \bigoplus_j (\mathbf{x}_i - \mathbf{x}_j)\,\phi_x(\mathbf{m}_{ij})` and
    :math:`\mathbf{x}_i' = \mathbf{x}_i + \mathbf{v}_i'`. Optional: normalised
    differences :math:`(\mathbf{x}_i - \mathbf{x}_j) / (\|\mathbf{x}_i -
    \mathbf{x}_j\| + \epsilon)`, a :math:`\tanh`-bounded :math:`\phi_x`, edge
    gating :math:`\mathbf{m}_{ij} \leftarrow \sigma(\phi_a(\mathbf{m}_{ij}))
    \mathbf{m}_{ij}`, a residual :math:`\mathbf{h}_i' = \mathbf{h}_i +
    \phi_h(\cdot)`, and a periodic box, in which differences are minimum
    images.

    **Equivariance.** For any orthogonal :math:`Q` (reflections included),
    translation :math:`\mathbf{t}` and node permutation :math:`\pi`, with
    :math:`\mathbf{a}_{ij}` invariant: :math:`\mathbf{h}` is invariant,
    :math:`\mathbf{x} \mapsto Q\mathbf{x} + \mathbf{t}` and
    :math:`\mathbf{v} \mapsto Q \mathbf{v}` transform the outputs the same
    way, and all outputs permute with the nodes. In a periodic box the group
    is that of the box: translations, and the orthogonal maps that preserve it.

    PyG's convention is followed: in :meth:`message`, index :math:`i` is the
    target ``edge_index[1]`` and :math:`j` the source ``edge_index[0]`` (the
    original code uses rows as receivers).

    For speed the first linear layer of :math:`\phi_e` is split and applied
    to node features before they are gathered onto edges,
    :math:`W[\mathbf{h}_i; \mathbf{h}_j; \dots] = W_1 \mathbf{h}_i + W_2
    \mathbf{h}_j + \dots`, which costs :math:`O(NFH)` instead of
    :math:`O(EFH)`. :meth:`forward` reaches the messages through
    :meth:`propagate`; the edges are processed ``edge_chunk_size`` at a time
    and aggregated into the output in place
    (:class:`~sgnn.nn.ChunkedMessagePassing`), so the chain of per-edge
    :math:`E \times H` intermediates stays in cache (on large graphs, edges
    sorted by target aggregate faster still). ``edge_index`` may also be a
    transposed sparse adjacency (``torch.sparse`` COO or CSR, or a
    ``SparseTensor``); ``edge_attr`` then follows its stored order.

    Args:
        in_channels (int): Size :math:`F` of each input node feature.
        out_channels (int): Size of each output node feature.
        hidden_channels (int, optional): Size :math:`H` of messages and of the
            MLPs' hidden layers. (default: :obj:`None`, ``out_channels``)
        edge_dim (int, optional): Size of invariant edge attributes
            :math:`\mathbf{a}_{ij}`. (default: ``0``)
        coord_aggr (str, optional): ``"sum"`` or ``"mean"`` for the coordinate
            update. (default: ``"sum"``)
        normalize (bool, optional): Normalise coordinate differences.
            (default: :obj:`False`)
        tanh (bool, optional): Bound :math:`\phi_x` by :math:`\tanh`.
            (default: :obj:`False`)
        attention (bool, optional): Gate messages. (default: :obj:`False`)
        residual (bool, optional): Add :math:`\mathbf{h}_i` to the feature
            update (needs ``in_channels == out_channels``). (default: :obj:`True`)
        velocity (bool, optional): The EGNN-vel variant; ``forward`` then
            needs ``vel``. (default: :obj:`False`)
        coord_scale (float, optional): :math:`C`. (default: ``1.0``)
        box (float or Tensor, optional): Periodic box lengths.
            (default: :obj:`None`)
        act (Callable, optional): Activation. (default: :class:`torch.nn.SiLU`)
        eps (float, optional): :math:`\epsilon` of the normalisation.
            (default: ``1e-8``)
        edge_chunk_size (int, optional): Edges per chunk of the fused edge
            loop. (default: ``16384``)
        aggr (str, optional): ``"sum"``, ``"mean"`` or ``"max"``, the
            aggregation :math:`\bigodot` of the messages for the feature
            update. (default: ``"sum"``)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing` (``flow``).

    ``x``, ``pos`` and ``vel`` must have the dtype of the parameters (a ``TypeError``
    otherwise, except under :func:`torch.autocast`). Non-finite ``pos`` raises a
    ``ValueError`` where values are checked (on the CPU, outside :func:`torch.compile`);
    NaN or inf in the features is not checked and propagates to the outputs.

    Shapes:
        - **input:** node features :math:`(N, F)`, positions :math:`(N, n)`,
          ``edge_index`` :math:`(2, E)`, edge attributes :math:`(E, D)`
          *(optional)*, velocities :math:`(N, n)` *(velocity variant)*
        - **output:** node features :math:`(N, F_{out})`, positions
          :math:`(N, n)`, and velocities :math:`(N, n)` in the velocity variant
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int | None = None,
        edge_dim: int = 0,
        coord_aggr: str = "sum",
        normalize: bool = False,
        tanh: bool = False,
        attention: bool = False,
        residual: bool = True,
        velocity: bool = False,
        coord_scale: float = 1.0,
        box: float | Tensor | None = None,
        act: Callable[[], Module] = SiLU,
        eps: float = 1e-8,
        edge_chunk_size: int = 16384,
        aggr: str = "sum",
        **kwargs: Any,
    ) -> None:
        check_choice("aggr", aggr, AGGRS)
        check_channels(edge_chunk_size=edge_chunk_size)
        super().__init__(aggr=aggr, edge_chunk_size=edge_chunk_size, **kwargs)
        if coord_aggr not in ("sum", "mean"):
            raise ValueError(f"coord_aggr must be 'sum' or 'mean', got {coord_aggr!r}")
        if residual and in_channels != out_channels:
            raise ValueError(
                f"residual=True needs in_channels == out_channels, got {in_channels} and "
                f"{out_channels}"
            )
        check_channels(in_channels=in_channels, out_channels=out_channels)
        check_channels(0, edge_dim=edge_dim)
        if hidden_channels is not None:
            check_channels(hidden_channels=hidden_channels)
        coord_scale = check_number(coord_scale, "coord_scale", minimum=-math.inf)
        eps = check_number(eps, "eps")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels or out_channels
        self.edge_dim = edge_dim
        self.coord_aggr = coord_aggr
        self.normalize = normalize
        self.tanh = tanh
        self.attention = attention
        self.residual = residual
        self.velocity = velocity
        self.coord_scale = coord_scale
        self.eps = eps
        if box is not None:
            box = torch.as_tensor(box, dtype=torch.get_default_dtype())
            if box.numel() == 0 or torch.any(box <= 0):
                raise ValueError("box lengths must be positive")
        self.register_buffer("box", box)
        hidden = self.hidden_channels
        # phi_e, its first layer applied to nodes (see the class docstring).
        self.edge_lin1 = Linear(2 * in_channels + 1 + edge_dim, hidden)
        self.edge_mlp = Sequential(act(), Linear(hidden, hidden), act())
        self.att_lin = Linear(hidden, 1) if attention else None
        self.coord_mlp = Sequential(Linear(hidden, hidden), act(), Linear(hidden, 1, bias=False))
        self.node_mlp = Sequential(
            Linear(in_channels + hidden, hidden), act(), Linear(hidden, out_channels)
        )
        self.vel_mlp = (
            Sequential(Linear(in_channels, hidden), act(), Linear(hidden, 1)) if velocity else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset_children(self)
        # Small coordinate updates at initialisation, as in the reference code.
        torch.nn.init.xavier_uniform_(self.coord_mlp[-1].weight, gain=0.001)

    def forward(
        self,
        x: Tensor,
        pos: Tensor,
        edge_index: Adj,
        edge_attr: Tensor | None = None,
        vel: Tensor | None = None,
    ) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]:
        """The updated state, one output per state input, in their order: ``(x', pos')``,
        or ``(x', pos', vel')`` in the velocity variant, the only one that takes ``vel``
        (so the layer chains in :class:`torch_geometric.nn.Sequential` as
        ``"x, pos, edge_index -> x, pos"`` or ``"x, pos, edge_index, edge_attr, vel ->
        x, pos, vel"``)."""
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}), got {tuple(x.shape)}")
        if pos.dim() != 2 or pos.size(0) != x.size(0):
            raise ValueError(f"pos must have shape (N, n) with N = {x.size(0)}, got "
                             f"{tuple(pos.shape)}")  # fmt: skip
        if (edge_attr is None) != (self.edge_dim == 0):
            raise ValueError(f"edge_attr must be given exactly when edge_dim > 0 "
                             f"(edge_dim = {self.edge_dim})")  # fmt: skip
        if self.velocity and (vel is None or vel.shape != pos.shape):
            raise ValueError("the velocity variant needs vel of the same shape as pos")
        if not self.velocity and vel is not None:
            raise ValueError("vel is given, but this layer has velocity=False; build "
                             "EGNNConv(..., velocity=True) to update velocities")  # fmt: skip
        check_dtype(self.edge_lin1.weight.dtype, x=x, pos=pos, vel=vel)
        check_finite(pos, "pos")
        n = x.size(0)
        adj, dst = self.adjacency(edge_index, n)
        num_edges = dst.numel()
        if edge_attr is not None and (edge_attr.dim() != 2 or edge_attr.size(0) != num_edges
                                      or edge_attr.size(1) != self.edge_dim):  # fmt: skip
            raise ValueError(
                f"edge_attr must have shape (E, {self.edge_dim}) with E = "
                f"{num_edges}, got {tuple(edge_attr.shape)}"
            )
        if self.box is not None and pos.size(1) != self.box.numel():
            raise ValueError(
                f"pos must have {self.box.numel()} columns, one per box length, got {pos.size(1)}"
            )
        weight, bias = self.edge_lin1.weight, self.edge_lin1.bias
        f = self.in_channels
        target = torch.addmm(bias, x, weight[:, :f].t())  # W_1 h_i + b, per node
        source = x @ weight[:, f : 2 * f].t()  # W_2 h_j, per node
        out = self.propagate(adj, target=target, source=source, pos=pos, edge_attr=edge_attr,
                             size=(n, n))  # fmt: skip
        m_aggr, shift = out[:, : self.hidden_channels], out[:, self.hidden_channels :]
        shift = self.coord_scale * shift
        h = self.node_mlp(torch.cat([x, m_aggr], dim=1))
        if self.residual:
            h = x + h
        if self.velocity:
            vel_out = self.vel_mlp(x) * vel + shift
            return h, pos + vel_out, vel_out
        return h, pos + shift

    def message(self, target_i: Tensor, source_j: Tensor, pos_i: Tensor, pos_j: Tensor,
                edge_attr: Tensor | None) -> Tensor:  # fmt: skip
        """``[m_ij, (x_i - x_j) phi_x(m_ij)]`` for a slice of edges, from the node terms
        ``W_1 h + b`` and ``W_2 h`` gathered onto it (see the class docstring)."""
        return torch.cat(self._message_parts(target_i + source_j, pos_i, pos_j, edge_attr), 1)

    def _message_parts(self, node_ij: Tensor, pos_i: Tensor, pos_j: Tensor,
                       edge_attr: Tensor | None) -> tuple[Tensor, Tensor]:  # fmt: skip
        """:meth:`message` as ``(m_ij, (x_i - x_j) phi_x(m_ij))``, from the sum of the
        node terms ``W_1 h_i + b + W_2 h_j``."""
        diff = pos_i - pos_j
        if self.box is not None:
            box = self.box.to(diff.dtype)
            diff = diff - box * torch.round(diff / box)
        dist2 = (diff * diff).sum(dim=1, keepdim=True)
        f = self.in_channels
        weight = self.edge_lin1.weight
        pre = torch.addcmul(node_ij, dist2, weight[:, 2 * f])
        if edge_attr is not None:
            pre = pre.addmm_(edge_attr, weight[:, 2 * f + 1 :].t())  # on a fresh tensor
        m = self.edge_mlp(pre)
        if self.att_lin is not None:
            m = m * torch.sigmoid(self.att_lin(m))
        phi = self.coord_mlp(m)
        if self.tanh:
            phi = torch.tanh(phi)
        if self.normalize:
            diff = diff / (torch.sqrt(dist2).detach() + self.eps)
        return m, diff * phi

    def aggregate(self, inputs: Tensor, index: Tensor, ptr: Tensor | None = None,
                  dim_size: int | None = None) -> Tensor:  # fmt: skip
        """PyG's unfused route: the messages by ``aggr``, the coordinate shifts by
        ``coord_aggr``."""
        m, shift = inputs[:, : self.hidden_channels], inputs[:, self.hidden_channels :]
        m = super().aggregate(m, index, ptr=ptr, dim_size=dim_size)
        shift = scatter(shift, index, 0, dim_size=dim_size, reduce=self.coord_aggr)
        return torch.cat([m, shift], dim=1)

    def message_and_aggregate(self, adj_t: Adj, target: Tensor, source: Tensor, pos: Tensor,
                              edge_attr: Tensor | None) -> Tensor:  # fmt: skip
        inputs = {"node_ij": (target, source), "pos_i": pos, "pos_j": pos,
                  "edge_attr": edge_attr}  # fmt: skip
        m, shift = self.chunked_aggregate(adj_t, self._message_parts, inputs,
                                          (self._aggr, self.coord_aggr))  # fmt: skip
        return torch.cat([m, shift], dim=1)

    def __repr__(self) -> str:
        options = [f"hidden_channels={self.hidden_channels}"]
        for name in ("edge_dim", "aggr", "coord_aggr", "normalize", "tanh", "attention",
                     "residual", "velocity", "coord_scale"):  # fmt: skip
            value = getattr(self, name)
            default = {"edge_dim": 0, "aggr": "sum", "coord_aggr": "sum", "normalize": False,
                       "tanh": False, "attention": False, "residual": True, "velocity": False,
                       "coord_scale": 1.0}[name]  # fmt: skip
            if value != default:
                options.append(f"{name}={value!r}")
        if self.box is not None:
            options.append(f"box={self.box.tolist()}")
        args = ", ".join([str(self.in_channels), str(self.out_channels), *options])
        return f"{type(self).__name__}({args})"
