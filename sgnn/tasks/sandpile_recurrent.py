r"""Recurrent sandpile models learnt from footprints alone, end to end.

Two weight-tied recurrences (:class:`~sgnn.nn.Recurrent`) with a monotone binary state,
run until it settles, so that their depth grows with the avalanche:

* :class:`FootprintAutomaton` (``"recurrent"``) updates the state with a learned local
  rule;
* :class:`RGRecurrent` (``"rg-recurrent"``) iterates the coarse-graining V-cycle of
  :class:`~sgnn.nn.RGNet`, shared across levels and iterations.

Both are trained by the progressive loss of the footprint criterion and return a
:class:`~sgnn.nn.RecurrentOutput` whose ``node`` has the two columns of the
feed-forward footprint models (toppled logit and :math:`\log(1 + \text{topplings})`),
so the same metrics apply. The other recurrent models are
:class:`~sgnn.tasks.ToppleAutomaton` and :class:`~sgnn.tasks.CountAutomaton`.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import Linear, Module

from ..nn import AutomatonConv, Recurrent, RecurrentOutput, RGNet
from ..train.progressive import progressive_loss
from ._recurrence import Recurrence, count_readout, lattice_diameter
from .sandpile_losses import footprint_criterion
from .sandpile_rules import IN_CHANNELS

__all__ = ["FootprintAutomaton", "RGRecurrent"]


class _ReapplyHead(Module):
    """Footprint logit from one more application of the rule at the final state (its
    pre-activation: positive where the rule keeps a site toppled), and
    :math:`\\log(1 + \\text{topplings})` from a readout of the detached state, so that
    counts never shape the rule."""

    def __init__(self, block: Module, count: Module) -> None:
        super().__init__()
        self.block = block
        self.count = count

    def forward(self, x: Tensor, state: Tensor, edge_index: Tensor, **kwargs: Any) -> Tensor:
        logit = self.block(x, state, edge_index, **kwargs)[:, 0]
        count = self.count(torch.cat([x, state.detach()], dim=1))[:, 0]
        return torch.stack([logit, count], dim=1)


def _progressive_footprint_loss(model: Module, batch: Any, generator: torch.Generator | None,
                                max_grad_iters: int) -> Tensor:  # fmt: skip
    """The footprint models' training loss: :func:`~sgnn.train.progressive_loss` of
    :func:`footprint_criterion`, read where the model settles, with up to one lattice
    diameter of extra iterations."""
    extra = int(lattice_diameter(batch).max())
    return progressive_loss(model, batch, footprint_criterion, max_iters=extra,
                            max_grad_iters=max_grad_iters, settle=True,
                            generator=generator)  # fmt: skip


def _reset_quiet(count: Module, rule_out: Linear) -> None:
    """Fresh count readout; the rule's output bias at -2, so that the model starts quiet:
    nothing switches on without a reason."""
    for m in count.modules():
        if isinstance(m, Linear):
            m.reset_parameters()
    with torch.no_grad():
        rule_out.bias.fill_(-2.0)


class FootprintAutomaton(Recurrence):
    r"""A recurrent model that learns the avalanche from footprints alone (end to end).

    A monotone binary state :math:`\mathbf{s}_i \in \{0, 1\}^K`, started at
    zero, is updated by a learned local rule (:class:`~sgnn.nn.AutomatonConv`)
    that re-reads the input every step:

    .. math::
        \mathbf{s}_i' = \max\Big(\mathbf{s}_i,\ \big[\text{MLP}(\mathbf{x}_i,
            \mathbf{s}_i, \textstyle\sum_{j \sim i} \mathbf{s}_j) > 0\big]\Big),

    with a straight-through gradient. Monotone and discrete, the state must
    settle, after a number of steps that grows with the avalanche; a rule that
    is right locally is then right on any lattice. The toppled logit is the
    rule's first pre-activation at the settled state; a readout of the
    detached state estimates :math:`\log(1 + \text{topplings})`.

    The exact avalanche is within reach: with
    :math:`\mathbf{s}_{ik} = [n_i \ge k]` (a thermometer code of the toppling
    count) the rule :math:`[z_i + o_i + \sum_{j \sim i} \sum_k \mathbf{s}_{jk}
    \ge 4k]` is the least-action characterisation of relaxation,
    :math:`n_i = \lfloor (z_i + o_i + \sum_{j\sim i} n_j)/4 \rfloor`, exact for
    avalanches in which no site topples more than :math:`K` times; with
    :math:`K = 1` it is the first wave. Only the toppled set is supervised
    (:meth:`training_loss`, progressive).

    Args:
        state_channels (int, optional): :math:`K`. (default: ``4``)
        hidden_channels (int, optional): Width of the rule's MLP. (default: ``32``)
        iter_factor (float, optional): Iteration budget per unit of lattice
            diameter. (default: ``16.0``)
    """

    def __init__(self, state_channels: int = 4, hidden_channels: int = 32,
                 iter_factor: float = 16.0) -> None:  # fmt: skip
        super().__init__()
        self.state_channels = state_channels
        self.hidden_channels = hidden_channels
        self.rule = AutomatonConv(IN_CHANNELS, state_channels, state_channels, hidden_channels)
        self.count = count_readout(IN_CHANNELS + state_channels, hidden_channels)
        self.recurrent = Recurrent(self.rule, state_channels, update="max", discretize="step",
                                   iter_factor=iter_factor)  # fmt: skip
        self.head = _ReapplyHead(self.rule, self.count)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.rule.reset_parameters()
        _reset_quiet(self.count, self.rule.lins[-1])

    def forward(self, data: Any, state: Tensor | None = None, num_iters: int | None = None,
                sparse: bool | None = None,
                callback: Callable[[int, Tensor], None] | None = None
                ) -> RecurrentOutput:  # fmt: skip
        result = self.run(data, state, num_iters, sparse, callback)
        output = self.head(data.x, result.state, data.edge_index)
        return result._replace(node=output)

    def training_loss(self, batch: Any, generator: torch.Generator | None = None,
                      max_grad_iters: int = 8) -> Tensor:  # fmt: skip
        """:func:`~sgnn.train.progressive_loss` of :func:`footprint_criterion`, read at or
        after the model's own convergence (``settle=True``)."""
        return _progressive_footprint_loss(self, batch, generator, max_grad_iters)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(state_channels={self.state_channels}, "
                f"hidden_channels={self.hidden_channels})")  # fmt: skip


class _HierarchyBlock(Module):
    """An RGNet as a recurrent block: its input is the static input and the state,
    lifted to every level of the batch's hierarchy (passed as ``data``)."""

    def __init__(self, net: RGNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, state: Tensor, edge_index: Tensor, data: Any) -> Tensor:
        view = copy.copy(data)
        view.x = torch.cat([x, state], dim=1)
        return self.net(view).node


class RGRecurrent(Recurrence):
    r"""The coarse-graining V-cycle as a recurrent body, shared across levels and iterations.

    As :class:`FootprintAutomaton`, but each update is a full pass of
    :class:`~sgnn.nn.RGNet` (``mode="exact"``) over the coarse-graining
    hierarchy: the input and the current state are pooled to every level
    (height densities by their mean, the boundary, drop-site and state
    indicators by their maximum), and one block, the same at every level,
    computes each level from the coarser ones down to the lattice, where it
    proposes the state's update:

    .. math::
        \mathbf{s}' = \max\big(\mathbf{s},\ [\text{RGNet}(\mathbf{x} \,\|\,
            \mathbf{s}) > 0]\big).

    One iteration reaches across the whole lattice, so a large avalanche
    could in principle settle in far fewer iterations than its duration; the
    weights are shared across levels and iterations, so one model runs on any
    lattice. Trained like :class:`FootprintAutomaton`, from footprints alone.

    Args:
        state_channels (int, optional): :math:`K`. (default: ``4``)
        hidden_channels (int, optional): Hidden size of the RGNet. (default: ``16``)
        num_layers (int, optional): Lattice convolutions per level. (default: ``1``)
        iter_factor (float, optional): Iteration budget per unit of lattice
            diameter; every iteration covers the whole hierarchy, so the budget
            is tighter than that of the local models. (default: ``4.0``)
        depth (int, optional): Deprecated name of ``num_layers``.
    """

    def __init__(self, state_channels: int = 4, hidden_channels: int = 16, num_layers: int = 1,
                 iter_factor: float = 4.0, depth: int | None = None) -> None:  # fmt: skip
        super().__init__()
        if depth is not None:
            warnings.warn("RGRecurrent(depth=) is now num_layers=; depth goes in 0.5",
                          DeprecationWarning, stacklevel=2)  # fmt: skip
            num_layers = depth
        self.state_channels = state_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        reduce = ("mean",) * 4 + ("max",) * (IN_CHANNELS - 4 + state_channels)
        self.net = RGNet(IN_CHANNELS + state_channels, hidden_channels, state_channels,
                         mode="exact", num_layers=num_layers, reduce=reduce)  # fmt: skip
        self.count = count_readout(IN_CHANNELS + state_channels, hidden_channels)
        block = _HierarchyBlock(self.net)
        self.recurrent = Recurrent(block, state_channels, update="max", discretize="step",
                                   iter_factor=iter_factor)  # fmt: skip
        self.head = _ReapplyHead(block, self.count)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.net.reset_parameters()
        _reset_quiet(self.count, self.net.head[-1])

    def forward(self, data: Any, state: Tensor | None = None, num_iters: int | None = None,
                sparse: bool | None = None,
                callback: Callable[[int, Tensor], None] | None = None
                ) -> RecurrentOutput:  # fmt: skip
        if sparse:
            raise ValueError(
                "sparse=True: RGRecurrent has no sparse iteration, since every "
                "update reads the whole hierarchy; pass sparse=None or False"
            )
        result = self.run(data, state, num_iters, False, callback, data=data)
        output = self.head(data.x, result.state, data.edge_index, data=data)
        return result._replace(node=output)

    def training_loss(self, batch: Any, generator: torch.Generator | None = None,
                      max_grad_iters: int = 4) -> Tensor:  # fmt: skip
        """As :meth:`FootprintAutomaton.training_loss`, backpropagating through at most
        ``max_grad_iters`` iterations (each one a pass over the whole hierarchy)."""
        return _progressive_footprint_loss(self, batch, generator, max_grad_iters)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(state_channels={self.state_channels}, "
                f"hidden_channels={self.hidden_channels}, "
                f"num_layers={self.num_layers})")  # fmt: skip
