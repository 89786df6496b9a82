"""A renormalisation-group network: one set of weights for every coarse-graining level."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.nn import Linear, Module, ModuleList, Sequential, SiLU
from torch_geometric.utils import scatter

from .._checks import check_int, check_number
from ..pool import check_reductions, coarse_grain, refine
from ._checks import AGGRS, check_channels
from ._mlp import mlp
from ._reset import reset_children
from .lattice_conv import LatticeConv

__all__ = ["RGNet", "RGNetOutput"]

_MODES = ("exact", "unet")


class RGNetOutput(NamedTuple):
    """What :class:`RGNet` returns, whatever its options: ``node``, the node outputs
    of level 0, :math:`(N_0, C_{out})`; ``graph``, the graph outputs :math:`(B, C_g)`
    when the model has ``graph_channels``, else :obj:`None`; ``levels``, the node
    outputs of every level, level 0 first, with ``return_levels=True``, else
    :obj:`None`."""

    node: Tensor
    graph: Tensor | None = None
    levels: list[Tensor] | None = None


class RGNet(Module):
    r"""A model over the coarse-graining hierarchy whose blocks share weights across levels.

    Input features :math:`\mathbf{x}` live on level 0 of a
    :class:`~sgnn.data.HierarchicalData`. They are lifted to every level by
    block pooling, :math:`\mathbf{x}^{(k+1)} = P\mathbf{x}^{(k)}`
    (:func:`~sgnn.pool.coarse_grain`), encoded by one shared map, and then
    processed from the coarsest level down:

    .. math::
        \mathbf{h}^{(K)} &= B\big(E\,\mathbf{x}^{(K)},\ \mathbf{0}\big)

        \mathbf{h}^{(k)} &= B\big(E\,\mathbf{x}^{(k)},\
            R\,\mathbf{h}^{(k+1)}\big), \qquad k = K - 1, \dots, 0,

    where :math:`R` copies a block's state to its sites
    (:func:`~sgnn.pool.refine`) and the block :math:`B` (a linear mix followed
    by ``num_layers`` residual :class:`LatticeConv` layers on the level's lattice) is
    the *same* module at every level. The number of levels comes from the
    input, so one set of parameters runs on any lattice size. Node outputs are
    :math:`\mathbf{y}^{(k)} = \text{head}(\mathbf{h}^{(k)})`; the graph output
    (if ``graph_channels``) reads out every level by its mean over each graph,
    aggregates over levels and applies an MLP.

    **Coarse-graining equivariance** (``mode="exact"``): :math:`\mathbf{h}^{(k)}`
    depends only on levels :math:`\ge k`, and the hierarchy of a
    :math:`bH \times bW` lattice above level 0 is that of the
    :math:`H \times W` lattice (:func:`~sgnn.data.coarse_grain_hierarchy`), so

    .. math::
        f(P\mathbf{x})^{(k)} = f(\mathbf{x})^{(k+1)}

    exactly, with the natural number of levels. With ``mode="unet"`` an upward
    pass first carries information from fine to coarse levels (more
    expressive, not exactly equivariant). Both modes are :math:`D_4`- and
    permutation-equivariant, since their convolutions are isotropic.

    Args:
        in_channels (int): Size of each input node feature.
        hidden_channels (int): Size of the hidden state at every level.
        out_channels (int): Size of each node output.
        mode (str, optional): ``"exact"`` or ``"unet"``. (default: ``"exact"``)
        num_layers (int, optional): :class:`LatticeConv` layers per block.
            (default: ``2``)
        reduce (str or Sequence[str], optional): Reduction of :math:`P`,
            ``"mean"``, ``"sum"`` or ``"max"``, or one of these per input
            channel (max-pooling an indicator keeps it at 1 on every level,
            where a mean would dilute it by :math:`b^{-2}` per level).
            (default: ``"mean"``)
        graph_channels (int, optional): Size of a graph-level output.
            (default: :obj:`None`, none)
        level_aggr (str, optional): How the graph readout combines levels,
            ``"mean"`` or ``"sum"``. (default: ``"mean"``)
        act (Callable, optional): Activation. (default: :class:`torch.nn.SiLU`)
        renormalize (float, optional): Rescale the fluctuations of the
            mean-pooled channels by this factor at every level,
            :math:`x^{(k+1)} = \bar{x} + s\,(P x^{(k)} - \bar{x})` with
            :math:`\bar{x}` the graph's mean of the level. For inputs with
            short-range correlations the block means fluctuate
            :math:`b` times less per level; :math:`s = b` undoes that, so every
            level sees statistically alike inputs (the fixed point that lets
            weights shared across levels transfer to larger lattices).
            (default: :obj:`None`, plain pooling)
        depth (int, optional): Deprecated name of ``num_layers``.

    Shapes:
        - **input:** a :class:`~sgnn.data.HierarchicalData` (or a batch of
          them, all with the same ``num_levels``) with ``x`` of shape
          :math:`(N_0, F_{in})`
        - **output:** an :class:`RGNetOutput`: ``node`` :math:`(N_0, F_{out})`;
          ``graph`` :math:`(B, F_{graph})` with ``graph_channels``; ``levels``,
          the node outputs of every level, with ``return_levels=True``
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        mode: str = "exact",
        num_layers: int = 2,
        reduce: str | Sequence[str] = "mean",
        graph_channels: int | None = None,
        level_aggr: str = "mean",
        act: Callable[[], Module] = SiLU,
        renormalize: float | None = None,
        depth: int | None = None,
    ) -> None:
        super().__init__()
        check_channels(in_channels=in_channels, hidden_channels=hidden_channels,
                       out_channels=out_channels)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if isinstance(reduce, str):
            if reduce not in AGGRS:
                raise ValueError(f"reduce must be one of {AGGRS} or one per input channel, "
                                 f"got {reduce!r}")  # fmt: skip
        else:
            reduce = check_reductions(reduce, in_channels)
            if not set(reduce) <= set(AGGRS):
                raise ValueError(f"reduce entries must be in {AGGRS}, got {reduce!r}")
        if level_aggr not in ("mean", "sum"):
            raise ValueError(f"level_aggr must be 'mean' or 'sum', got {level_aggr!r}")
        if depth is not None:
            warnings.warn("RGNet(depth=) is now num_layers=; depth goes in 0.5",
                          DeprecationWarning, stacklevel=2)  # fmt: skip
            num_layers = depth
        num_layers = check_int(num_layers, "num_layers", minimum=0)
        if renormalize is not None:
            renormalize = check_number(renormalize, "renormalize", strict=True)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.mode = mode
        self.num_layers = num_layers
        self.reduce = reduce
        self.renormalize = renormalize
        means = [reduce == "mean"] * in_channels if isinstance(reduce, str) else [
            r == "mean" for r in reduce]  # fmt: skip
        self._mean_columns = [i for i, is_mean in enumerate(means) if is_mean]
        self.graph_channels = graph_channels
        self.level_aggr = level_aggr
        hidden = hidden_channels
        self.encoder = Sequential(Linear(in_channels, hidden), act())
        self.mix = Linear(2 * hidden, hidden)
        self.convs = ModuleList(LatticeConv(hidden, hidden) for _ in range(num_layers))
        if mode == "unet":
            self.mix_up = Linear(2 * hidden, hidden)
            self.convs_up = ModuleList(LatticeConv(hidden, hidden) for _ in range(num_layers))
        self.act = act()
        self.head = mlp(hidden, hidden, out_channels, act)
        self.graph_head = mlp(hidden, hidden, graph_channels, act) if graph_channels else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_children(self)

    def _block(self, own: Tensor, other: Tensor, edge_index: Tensor, up: bool = False) -> Tensor:
        mix, convs = (self.mix_up, self.convs_up) if up else (self.mix, self.convs)
        h = mix(torch.cat([own, other], dim=1))
        for conv in convs:
            h = h + self.act(conv(h, edge_index))
        return h

    def forward(self, data: Any, return_levels: bool = False) -> RGNetOutput:
        levels = _num_levels(data)
        x = data.x
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"data.x must have shape (N, {self.in_channels}), got "
                             f"{tuple(x.shape)}")  # fmt: skip
        graphs = [data.level(k) for k in range(levels)]
        sizes = [data.level_size(k) for k in range(levels)]
        lifted = [x]
        for k in range(levels - 1):
            batch = data.level_batch(k + 1) if self.renormalize is not None else None
            lifted.append(self.lift(lifted[k], graphs[k].cluster, batch, sizes[k + 1]))
        encoded = [self.encoder(v) for v in lifted]
        if self.mode == "unet":  # fine-to-coarse pass, then the same top-down pass
            start = torch.zeros_like(encoded[0])
            up = self._block(encoded[0], start, graphs[0].edge_index, up=True)
            ups = [up]
            for k in range(1, levels):
                below = coarse_grain(ups[-1], graphs[k - 1].cluster, "mean", dim_size=sizes[k])
                ups.append(self._block(encoded[k], below, graphs[k].edge_index, up=True))
            encoded = ups
        states: list[Tensor] = [encoded[0]] * levels
        above = torch.zeros_like(encoded[-1])
        for k in reversed(range(levels)):
            if k < levels - 1:
                above = refine(states[k + 1], graphs[k].cluster)
            states[k] = self._block(encoded[k], above, graphs[k].edge_index)
        # The coarse levels' heads are needed only on request.
        heads = [self.head(h) for h in states] if return_levels else None
        node = heads[0] if heads is not None else self.head(states[0])
        graph = None if self.graph_head is None else self._graph_output(data, states, levels)
        return RGNetOutput(node, graph, heads)

    def lift(self, x: Tensor, cluster: Tensor, batch: Tensor | None = None,
             dim_size: int | None = None) -> Tensor:  # fmt: skip
        r"""The block pooling :math:`P` of the inputs, from one level to the next.

        Args:
            x (torch.Tensor): Inputs of a level, :math:`(N_k, F_{in})`.
            cluster (torch.Tensor): Block of every node, :math:`(N_k,)`.
            batch (torch.Tensor, optional): Graph of every block,
                :math:`(N_{k+1},)`; needed with ``renormalize`` (default: one graph).
            dim_size (int, optional): Number of blocks.
        """
        out = coarse_grain(x, cluster, self.reduce, dim_size=dim_size)
        if self.renormalize is None or not self._mean_columns:
            return out
        if batch is None:
            batch = torch.zeros(out.size(0), dtype=torch.long, device=out.device)
        cols = self._mean_columns
        mean = scatter(out[:, cols], batch, dim=0, reduce="mean")[batch]
        out = out.clone()
        out[:, cols] = mean + self.renormalize * (out[:, cols] - mean)
        return out

    def _graph_output(self, data: Any, states: list[Tensor], levels: int) -> Tensor:
        batch0 = data.get("batch")
        if batch0 is None:
            batch0 = torch.zeros(data.num_nodes, dtype=torch.long, device=data.x.device)
        num_graphs = int(data.num_graphs) if hasattr(data, "num_graphs") else 1
        readouts = []
        for k, h in enumerate(states):
            batch = batch0 if k == 0 else data.level_batch(k)
            readouts.append(scatter(h, batch, dim=0, dim_size=num_graphs, reduce="mean"))
        stacked = torch.stack(readouts)
        pooled = stacked.mean(0) if self.level_aggr == "mean" else stacked.sum(0)
        return self.graph_head(pooled)

    def __repr__(self) -> str:
        extra = f", renormalize={self.renormalize}" if self.renormalize is not None else ""
        extra += f", graph_channels={self.graph_channels}" if self.graph_channels else ""
        return (
            f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, "
            f"{self.out_channels}, mode={self.mode!r}, num_layers={self.num_layers}{extra})"
        )


def _num_levels(data: Any) -> int:
    if "num_levels" not in data or ("cluster_0" not in data and int(
        torch.as_tensor(data.num_levels).max()
    ) > 1):
        raise ValueError(
            "data must carry a coarse-graining hierarchy: apply sgnn.data.AddHierarchy "
            "or coarse_grain_hierarchy(...).attach(data)"
        )
    levels = torch.as_tensor(data.num_levels).view(-1)
    if not torch.all(levels == levels[0]):
        raise ValueError(
            f"graphs in a batch must have the same num_levels, got {levels.tolist()}; "
            "pass num_levels= to AddHierarchy"
        )
    return int(levels[0])
