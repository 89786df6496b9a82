"""A renormalisation-group network: one set of weights for every coarse-graining level."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.nn import Linear, Module, ModuleList, Sequential, SiLU
from torch_geometric.utils import scatter

from ..data.hierarchy import check_reductions, coarse_grain, refine
from ._checks import check_channels
from ._mlp import mlp
from .lattice_conv import LatticeConv

__all__ = ["RGNet"]

MODES = ("exact", "unet")
POOLS = ("mean", "sum", "max")


class RGNet(Module):
    r"""A model over the coarse-graining hierarchy whose blocks share weights across levels.

    Input features :math:`\mathbf{x}` live on level 0 of a
    :class:`~sgnn.data.HierarchicalData`. They are lifted to every level by
    block pooling, :math:`\mathbf{x}^{(k+1)} = P\mathbf{x}^{(k)}`
    (:func:`~sgnn.data.coarse_grain`), encoded by one shared map, and then
    processed from the coarsest level down:

    .. math::
        \mathbf{h}^{(K)} &= B\big(E\,\mathbf{x}^{(K)},\ \mathbf{0}\big)

        \mathbf{h}^{(k)} &= B\big(E\,\mathbf{x}^{(k)},\
            R\,\mathbf{h}^{(k+1)}\big), \qquad k = K - 1, \dots, 0,

    where :math:`R` copies a block's state to its sites
    (:func:`~sgnn.data.refine`) and the block :math:`B` (a linear mix followed
    by ``depth`` residual :class:`LatticeConv` layers on the level's lattice) is
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
        depth (int, optional): :class:`LatticeConv` layers per block.
            (default: ``2``)
        pool (str or Sequence[str], optional): Reduction of :math:`P`,
            ``"mean"``, ``"sum"`` or ``"max"``, or one of these per input
            channel (max-pooling an indicator keeps it at 1 on every level,
            where a mean would dilute it by :math:`b^{-2}` per level).
            (default: ``"mean"``)
        graph_channels (int, optional): Size of a graph-level output.
            (default: :obj:`None`, none)
        level_aggr (str, optional): How the graph readout combines levels,
            ``"mean"`` or ``"sum"``. (default: ``"mean"``)
        act (Callable, optional): Activation. (default: :class:`torch.nn.SiLU`)
        renormalise (float, optional): Rescale the fluctuations of the
            mean-pooled channels by this factor at every level,
            :math:`x^{(k+1)} = \bar{x} + s\,(P x^{(k)} - \bar{x})` with
            :math:`\bar{x}` the graph's mean of the level. For inputs with
            short-range correlations the block means fluctuate
            :math:`b` times less per level; :math:`s = b` undoes that, so every
            level sees statistically alike inputs (the fixed point that lets
            weights shared across levels transfer to larger lattices).
            (default: :obj:`None`, plain pooling)

    Shapes:
        - **input:** a :class:`~sgnn.data.HierarchicalData` (or a batch of
          them, all with the same ``num_levels``) with ``x`` of shape
          :math:`(N_0, F_{in})`
        - **output:** node outputs :math:`(N_0, F_{out})`; with
          ``graph_channels`` also :math:`(B, F_{graph})`; with
          ``return_levels=True`` the list of node outputs of every level
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        mode: str = "exact",
        depth: int = 2,
        pool: str | Sequence[str] = "mean",
        graph_channels: int | None = None,
        level_aggr: str = "mean",
        act: Callable[[], Module] = SiLU,
        renormalise: float | None = None,
    ) -> None:
        super().__init__()
        check_channels(in_channels=in_channels, hidden_channels=hidden_channels,
                       out_channels=out_channels)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if isinstance(pool, str):
            if pool not in POOLS:
                raise ValueError(f"pool must be one of {POOLS} or one per input channel, "
                                 f"got {pool!r}")  # fmt: skip
        else:
            pool = check_reductions(pool, in_channels)
            if not set(pool) <= set(POOLS):
                raise ValueError(f"pool entries must be in {POOLS}, got {pool!r}")
        if level_aggr not in ("mean", "sum"):
            raise ValueError(f"level_aggr must be 'mean' or 'sum', got {level_aggr!r}")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ValueError(f"depth must be a non-negative int, got {depth!r}")
        if renormalise is not None and not (isinstance(renormalise, (int, float))
                                            and math.isfinite(renormalise) and renormalise > 0):
            raise ValueError(f"renormalise must be a positive number, got {renormalise!r}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.mode = mode
        self.depth = depth
        self.pool = pool
        self.renormalise = renormalise
        means = [pool == "mean"] * in_channels if isinstance(pool, str) else [
            r == "mean" for r in pool]  # fmt: skip
        self._mean_columns = [i for i, is_mean in enumerate(means) if is_mean]
        self.graph_channels = graph_channels
        self.level_aggr = level_aggr
        hidden = hidden_channels
        self.encoder = Sequential(Linear(in_channels, hidden), act())
        self.mix = Linear(2 * hidden, hidden)
        self.convs = ModuleList(LatticeConv(hidden, hidden) for _ in range(depth))
        if mode == "unet":
            self.mix_up = Linear(2 * hidden, hidden)
            self.convs_up = ModuleList(LatticeConv(hidden, hidden) for _ in range(depth))
        self.act = act()
        self.head = mlp(hidden, hidden, out_channels, act)
        self.graph_head = mlp(hidden, hidden, graph_channels, act) if graph_channels else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def _block(self, own: Tensor, other: Tensor, edge_index: Tensor, up: bool = False) -> Tensor:
        mix, convs = (self.mix_up, self.convs_up) if up else (self.mix, self.convs)
        h = mix(torch.cat([own, other], dim=1))
        for conv in convs:
            h = h + self.act(conv(h, edge_index))
        return h

    def forward(self, data: Any, return_levels: bool = False) -> Any:
        levels = _num_levels(data)
        x = data.x
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"data.x must have shape (N, {self.in_channels}), got "
                             f"{tuple(x.shape)}")  # fmt: skip
        graphs = [data.level(k) for k in range(levels)]
        sizes = [data.level_size(k) for k in range(levels)]
        lifted = [x]
        for k in range(levels - 1):
            batch = data[f"batch_{k + 1}"] if self.renormalise is not None else None
            lifted.append(self.lift(lifted[k], graphs[k][2], batch, sizes[k + 1]))
        encoded = [self.encoder(v) for v in lifted]
        if self.mode == "unet":  # fine-to-coarse pass, then the same top-down pass
            up = self._block(encoded[0], torch.zeros_like(encoded[0]), graphs[0][0], up=True)
            ups = [up]
            for k in range(1, levels):
                below = coarse_grain(ups[-1], graphs[k - 1][2], "mean", dim_size=sizes[k])
                ups.append(self._block(encoded[k], below, graphs[k][0], up=True))
            encoded = ups
        states: list[Tensor] = [encoded[0]] * levels
        above = torch.zeros_like(encoded[-1])
        for k in reversed(range(levels)):
            if k < levels - 1:
                above = refine(states[k + 1], graphs[k][2])
            states[k] = self._block(encoded[k], above, graphs[k][0])
        if return_levels:
            return [self.head(h) for h in states]
        output = self.head(states[0])  # the coarse levels' heads are needed only on request
        if self.graph_head is None:
            return output
        return output, self._graph_output(data, states, levels)

    def lift(self, x: Tensor, cluster: Tensor, batch: Tensor | None = None,
             dim_size: int | None = None) -> Tensor:  # fmt: skip
        r"""The block pooling :math:`P` of the inputs, from one level to the next.

        Args:
            x (torch.Tensor): Inputs of a level, :math:`(N_k, F_{in})`.
            cluster (torch.Tensor): Block of every node, :math:`(N_k,)`.
            batch (torch.Tensor, optional): Graph of every block,
                :math:`(N_{k+1},)`; needed with ``renormalise`` (default: one graph).
            dim_size (int, optional): Number of blocks.
        """
        out = coarse_grain(x, cluster, self.pool, dim_size=dim_size)
        if self.renormalise is None or not self._mean_columns:
            return out
        if batch is None:
            batch = torch.zeros(out.size(0), dtype=torch.long, device=out.device)
        cols = self._mean_columns
        mean = scatter(out[:, cols], batch, dim=0, reduce="mean")[batch]
        out = out.clone()
        out[:, cols] = mean + self.renormalise * (out[:, cols] - mean)
        return out

    def _graph_output(self, data: Any, states: list[Tensor], levels: int) -> Tensor:
        batch0 = data.get("batch")
        if batch0 is None:
            batch0 = torch.zeros(data.num_nodes, dtype=torch.long, device=data.x.device)
        num_graphs = int(data.num_graphs) if hasattr(data, "num_graphs") else 1
        readouts = []
        for k, h in enumerate(states):
            batch = batch0 if k == 0 else data[f"batch_{k}"]
            readouts.append(scatter(h, batch, dim=0, dim_size=num_graphs, reduce="mean"))
        stacked = torch.stack(readouts)
        pooled = stacked.mean(0) if self.level_aggr == "mean" else stacked.sum(0)
        return self.graph_head(pooled)

    def __repr__(self) -> str:
        extra = f", renormalise={self.renormalise}" if self.renormalise is not None else ""
        extra += f", graph_channels={self.graph_channels}" if self.graph_channels else ""
        return (
            f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, "
            f"{self.out_channels}, mode={self.mode!r}, depth={self.depth}{extra})"
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
