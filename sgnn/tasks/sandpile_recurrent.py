r"""Recurrent sandpile models: the avalanche executed step by step by a learned local rule.

Three models, all weight-tied recurrences (:class:`~sgnn.nn.Recurrent`) run
until their state settles, so their depth grows with the avalanche:

* :class:`ToppleAutomaton` (``"hint"``) learns the toppling rule from one-step
  transitions of the synchronous dynamics that the engine records;
* :class:`FootprintAutomaton` (``"recurrent"``) learns from footprints alone,
  with a monotone binary state;
* :class:`RGRecurrent` (``"rg-recurrent"``) iterates the coarse-graining
  V-cycle of :class:`~sgnn.nn.RGNet`, shared across levels and iterations.

Every model returns a :class:`~sgnn.nn.RecurrentOutput` whose ``output`` has
the two columns of the feed-forward footprint models (toppled logit and
:math:`\log(1 + \text{topplings})`), so the same metrics apply.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.nn import Linear, Module
from torch.nn.functional import mse_loss

from .._checks import check_positive_int
from ..nn import AutomatonConv, Recurrent, RecurrentOutput, RGNet
from ..nn._mlp import mlp
from ..sandpile import avalanche_activity
from ..train.progressive import progressive_loss
from .local_rules import LocalCases
from .sandpile import footprint_criterion
from .sandpile_rules import HEIGHT_BITS, IN_CHANNELS, thermometer, topple_cases

__all__ = [
    "FootprintAutomaton",
    "RGRecurrent",
    "ToppleAutomaton",
    "lattice_diameter",
]

def lattice_diameter(data: Any) -> Tensor:
    """Graph diameter :math:`H + W - 2` of every lattice of a batch (at least 1), float64."""
    if "lattice_shape" not in data:
        raise ValueError("data needs lattice_shape (H, W); build it with "
                         "sgnn.data.sandpile_to_data")
    shape = torch.as_tensor(data.lattice_shape).view(-1, 2).double()
    return (shape.sum(1) - 2).clamp(min=1)


def _check_input(data: Any) -> None:
    x = getattr(data, "x", None)
    if not isinstance(x, Tensor) or x.dim() != 2 or x.size(1) != IN_CHANNELS:
        raise ValueError(f"data.x must have shape (N, {IN_CHANNELS}) (one-hot height, missing "
                         f"neighbours, drop site), got {getattr(x, 'shape', None)}")  # fmt: skip


def _heights_and_sites(data: Any) -> tuple[list[np.ndarray], list[int]]:
    """Stable heights (H, W) and drop site (flat index) of every graph of a footprint batch."""
    x = data.x.detach().cpu()
    shapes = torch.as_tensor(data.lattice_shape).view(-1, 2).tolist()
    heights, sites, start = [], [], 0
    for h, w in shapes:
        part = x[start : start + h * w]
        heights.append(part[:, :4].argmax(1).reshape(h, w).numpy())
        sites.append(int(part[:, 5].argmax()))
        start += h * w
    return heights, sites


class _Recurrence(Module):
    """Shared plumbing: run :attr:`recurrent` on a batch of lattices, with the lattice
    diameter as the iteration scale."""

    recurrent: Recurrent

    def run(self, graph: Any, state: Tensor | None, num_iters: int | None,
            sparse: bool | None, callback: Callable[[int, Tensor], None] | None,
            **kwargs: Any) -> RecurrentOutput:  # fmt: skip
        _check_input(graph)
        batch = graph.get("batch")
        diameter = lattice_diameter(graph) if num_iters is None else None
        return self.recurrent(graph.x, graph.edge_index, batch, state=state, num_iters=num_iters,
                              diameter=diameter, sparse=sparse, callback=callback,
                              **kwargs)  # fmt: skip

    def forward(self, data: Any, state: Tensor | None = None, num_iters: int | None = None,
                sparse: bool | None = None,
                callback: Callable[[int, Tensor], None] | None = None
                ) -> RecurrentOutput:  # fmt: skip
        """Run the recurrence on a footprint batch until every graph settles (or for
        ``num_iters`` iterations), from ``state`` or the model's initial state."""
        return self.run(data, state, num_iters, sparse, callback)


def _crowding(activity: Any) -> np.ndarray:
    """``1 + sum_i r_i**2`` for every step of ``activity`` and the final, quiet one, with
    ``r_i`` the grains site ``i`` receives at the step."""
    graph = activity.graph
    n, steps = graph.num_nodes, activity.num_steps
    step_of = np.repeat(np.arange(steps), activity.step_sizes())
    degree = graph.threshold[activity.sites]
    # Every toppling sends a grain along each edge of its site; count them per (step, site).
    edge = np.repeat(graph.indptr[activity.sites], degree) + _ranks(degree)
    target = graph.indices[edge]
    keep = target < n  # grains into the sink are not received by any site
    keys = np.repeat(step_of, degree)[keep] * n + target[keep]
    received = np.bincount(keys, minlength=steps * n).reshape(steps, n) if steps else np.zeros(
        (0, n))  # fmt: skip
    return np.append(1.0 + (received.astype(np.float64) ** 2).sum(1), 1.0)


def _ranks(counts: np.ndarray) -> np.ndarray:
    """``0, 1, ..., c - 1`` for every ``c`` in ``counts``, concatenated."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


class _Copies(NamedTuple):
    x: Tensor
    edge_index: Tensor


def _repeat_graphs(batch: Any, k: int, sizes: list[int]) -> _Copies:
    """Every graph of ``batch`` repeated ``k`` times in a row, as one disjoint graph."""
    if k == 1:
        return _Copies(batch.x, batch.edge_index)
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    node_parts, edge_parts, offset = [], [], 0
    src = batch.edge_index[0]
    edge_graph = torch.bucketize(src, torch.as_tensor(ptr[1:], device=src.device), right=True)
    for g, size in enumerate(sizes):
        x = batch.x[ptr[g] : ptr[g + 1]]
        edges = batch.edge_index[:, edge_graph == g] - int(ptr[g])
        for _ in range(k):
            node_parts.append(x)
            edge_parts.append(edges + offset)
            offset += size
    return _Copies(torch.cat(node_parts), torch.cat(edge_parts, dim=1))


def _ordinal(values: Tensor) -> Tensor:
    """``(height, increment)`` estimates as the state's update: the logits
    ``height - k + 1/2`` of the bits ``[height >= k]``, ``k = 1..7``, and the increment."""
    levels = torch.arange(1, HEIGHT_BITS + 1, device=values.device, dtype=values.dtype)
    return torch.cat([values[:, :1] - levels + 0.5, values[:, 1:2]], dim=1)


class _StateRule(Module):
    """The toppling rule's block: the rule reads only the height bits of the state (not the
    input, used once for the initial state, nor the counter, an unbounded output
    accumulator the dynamics must not depend on) and estimates the next height and the
    counter's increment, read out ordinally."""

    num_hops = 1

    def __init__(self, conv: AutomatonConv) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: Tensor, state: Tensor, edge_index: Tensor) -> Tensor:
        return _ordinal(_next_height(self.conv, state[:, :HEIGHT_BITS], edge_index))


def _next_height(conv: AutomatonConv, bits: Tensor, edge_index: Tensor) -> Tensor:
    """The rule's estimates ``(g, c)`` of the next height and the counter's increment,
    before rounding, from the height bits of every site."""
    change = conv(bits[:, :0], bits, edge_index)
    # Residual in the height: the rule learns the change, so a bit that the data never
    # sets (a height of 7 is rare below L = 64) keeps its initial weight of 0.
    return torch.cat([bits.sum(1, keepdim=True) + change[:, :1], change[:, 1:]], dim=1)


class _StartRule(Module):
    """The initial height :math:`z + o` and a zero counter, estimated from the input."""

    def __init__(self, lin: Linear) -> None:
        super().__init__()
        self.lin = lin

    def forward(self, x: Tensor) -> Tensor:
        return _ordinal(self.lin(x))


class _CountHead(Module):
    """Footprint outputs from a toppling counter (state column ``column``): logit
    ``n - 1/2``, ``log(1 + n)``."""

    def __init__(self, column: int) -> None:
        super().__init__()
        self.column = column

    def forward(self, x: Tensor, state: Tensor) -> Tensor:
        n = state[:, self.column].clamp(min=0)
        return torch.stack([n - 0.5, torch.log1p(n)], dim=1)


class ToppleAutomaton(_Recurrence):
    r"""The avalanche as a learned cellular automaton, trained on single steps (the "hint" model).

    The state of a site is its height during the avalanche,
    :math:`h \in \{0, \dots, 7\}` (from a stable start no site holds twice
    its threshold), as the thermometer code :math:`b_k = [h \ge k]`,
    :math:`k = 1, \dots, 7`, and its toppling counter :math:`n`. Every step a
    learned rule (:class:`~sgnn.nn.AutomatonConv`, sum aggregation) reads the
    bits of a site and their sums over its neighbours and estimates the next
    height :math:`g` and the counter's increment :math:`c`; the new bits are
    read out ordinally, :math:`b_k' = [g > k - 1/2]`, and
    :math:`n' = n + \operatorname{round}(c)`:

    .. math::
        (g, c) = \text{MLP}\Big(\mathbf{b}_i,\ \textstyle\sum_{j \sim i}
            \mathbf{b}_j\Big), \qquad h' = \operatorname{round}(g).

    The code is ordinal: "unstable" is the single bit :math:`b_4` whatever
    the height, so the number of unstable neighbours is one input, and the
    exact rule :math:`h' = \sum_k b_k - 4 b_4 + \sum_{j \sim i} b_{4,j}`,
    :math:`c = b_4`, is *linear*. With the default ``num_layers=1`` the rule
    is a linear map: once it fits the transitions of small lattices it holds
    for every height, including those that lattices of 16 and 32 sites hardly
    ever show (a site at 3 between four toppling neighbours reaches 7), and
    the discrete state keeps errors below :math:`1/2` from compounding. The
    initial state, :math:`h^{(0)} = z + e_o` and :math:`n = 0`, is a learned
    linear map of the input. Unrolled until nothing changes, the synchronous
    dynamics stop after the avalanche's duration plus one step.

    :meth:`training_loss` supervises single steps: it draws steps of each
    avalanche of a batch, replays the engine's record
    (:func:`~sgnn.sandpile.avalanche_activity`) to them, and asks for the
    next state, plus :meth:`domain_loss`, the same on every case of the
    rule's local domain (:meth:`local_cases`, :func:`~sgnn.tasks.topple_cases`:
    every height 0..7 with every multiset of neighbour heights). Outputs:
    toppled logit :math:`n - 1/2` and :math:`\log(1 + n)`.

    **Verified, hence exact at every size.** The update reads only a site's
    bits and the sums of its neighbours' bits, so it is determined by its
    values on the 4 000 local cases; :func:`~sgnn.tasks.snap_rule` rounds the
    learnt weights to the exact rule's grid and :func:`~sgnn.tasks.verify_rule`
    checks every case. A model that passes is the toppling rule itself: run
    until it settles, it reproduces every avalanche on every lattice, whatever
    its size, provided its iteration budget (``iter_factor`` times the
    lattice's diameter) covers the avalanche's duration -- a run that hits the
    budget reports ``converged=False``. ``sgnn train --model hint`` trains,
    snaps and verifies, and restarts while verification fails.

    Args:
        hidden_channels (int, optional): Width of the rule's MLP when
            ``num_layers > 1``. (default: ``32``)
        num_layers (int, optional): Layers of the rule's MLP. (default: ``1``)
        iter_factor (float, optional): Iteration budget per unit of lattice
            diameter. (default: ``16.0``)
    """

    def __init__(self, hidden_channels: int = 32, num_layers: int = 1,
                 iter_factor: float = 16.0) -> None:  # fmt: skip
        super().__init__()
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.rule = AutomatonConv(0, HEIGHT_BITS, 2, hidden_channels, num_layers=num_layers)
        self.start = Linear(IN_CHANNELS, 2)
        self.recurrent = Recurrent(_StateRule(self.rule), (HEIGHT_BITS, 1),
                                   init=_StartRule(self.start), head=_CountHead(HEIGHT_BITS),
                                   update=("replace", "add"), discretize=("step", "round"),
                                   iter_factor=iter_factor)  # fmt: skip
        self._cases: LocalCases | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.rule.reset_parameters()
        self.start.reset_parameters()
        if self.num_layers == 1:  # a linear rule starts from "nothing changes"
            with torch.no_grad():
                self.rule.lins[0].weight.zero_()
                self.rule.lins[0].bias.zero_()

    def training_loss(self, batch: Any, generator: torch.Generator | None = None,
                      steps_per_graph: int = 4) -> Tensor:  # fmt: skip
        r"""Squared errors of the next height and of the counter's increment, at
        ``steps_per_graph`` steps :math:`t \in \{0, \dots, T\}` of every avalanche
        (:math:`T` its duration: the last step checks that a stable pile stays put), plus
        those of the initial state.

        Half the steps are drawn uniformly, half in proportion to their crowding
        :math:`1 + \sum_i r_i^2` (:math:`r_i` the grains site :math:`i` receives at the
        step), and the sites that topple or receive grains get a term of their own besides
        the mean over all sites (most of which sit still), weighted by :math:`(1 + r_i)^2`:
        crowded steps and sites hold the rare patterns (a site between four toppling
        neighbours), which small lattices seldom show.
        """
        _check_input(batch)
        check_positive_int(steps_per_graph, "steps_per_graph")
        heights, sites = _heights_and_sites(batch)
        now, after, start = [], [], []
        for z, site in zip(heights, sites, strict=True):
            activity = avalanche_activity(z, divmod(site, z.shape[1]))
            start.append(activity.heights(0).reshape(-1))
            weights = _crowding(activity)
            uniform = torch.randint(activity.num_steps + 1, ((steps_per_graph + 1) // 2,),
                                    generator=generator)  # fmt: skip
            crowded = torch.multinomial(torch.from_numpy(weights), steps_per_graph // 2,
                                        replacement=True, generator=generator)  # fmt: skip
            for t in torch.cat([uniform, crowded]).tolist():
                t_next = min(t + 1, activity.num_steps)
                n_t = activity.counts(t).reshape(-1)
                now.append(np.stack([activity.heights(t).reshape(-1), n_t], 1))
                after.append(np.stack([activity.heights(t_next).reshape(-1),
                                       activity.counts(t_next).reshape(-1) - n_t], 1))
        device, dtype = batch.x.device, batch.x.dtype
        # Graph g's draws are copies g * k .. g * k + k - 1 of it, in this order.
        copies = _repeat_graphs(batch, steps_per_graph, [z.size for z in heights])
        now_t = torch.from_numpy(np.concatenate(now)).to(device)
        after_t = torch.from_numpy(np.concatenate(after)).to(device)
        start_t = torch.from_numpy(np.concatenate(start)).to(device)
        if int(now_t[:, 0].max()) > HEIGHT_BITS:
            raise ValueError("a height outside 0..7 during an avalanche: the input is not stable")
        bits = thermometer(now_t[:, 0]).to(dtype)
        g = _next_height(self.rule, bits, copies.edge_index)
        unstable = (now_t[:, 0] >= 4).to(dtype)
        src, dst = copies.edge_index
        received = torch.zeros_like(unstable).index_add_(0, dst, unstable[src])
        per_site = ((g - after_t.to(dtype)) ** 2).sum(1)
        weight = ((unstable + received) > 0).to(dtype) * (1 + received) ** 2
        active = (weight * per_site).sum() / weight.sum().clamp(min=1)
        s0 = self.start(batch.x)
        target0 = torch.stack([start_t.to(dtype), torch.zeros_like(s0[:, 0])], dim=1)
        return per_site.mean() + active + mse_loss(s0, target0) + self.domain_loss()

    def local_cases(self) -> LocalCases:
        """The rule's whole local domain (:func:`~sgnn.tasks.topple_cases`), for
        :func:`~sgnn.tasks.verify_rule`."""
        if self._cases is None:
            self._cases = topple_cases()
        return self._cases

    def domain_loss(self) -> Tensor:
        r"""Squared errors of the next height and increment, and of the initial state, on
        every case of the local domain (:meth:`local_cases`), equally weighted.

        Avalanches on small lattices almost never show some local states (a site at
        height 7); this term teaches the rule those too, so that a rule which fits the
        data also verifies."""
        cases = self.local_cases()
        param = self.start.weight
        bits = cases.state[:, :HEIGHT_BITS].to(param)
        g = _next_height(self.rule, bits, cases.edge_index.to(param.device))[cases.center]
        target = cases.target.to(param)
        step = torch.stack([target[:, :HEIGHT_BITS].sum(1), target[:, HEIGHT_BITS]], 1)
        start = cases.start_target.to(param)
        start = torch.stack([start[:, :HEIGHT_BITS].sum(1), start[:, HEIGHT_BITS]], 1)
        return (((g - step) ** 2).sum(1).mean()
                + ((self.start(cases.start_x.to(param)) - start) ** 2).sum(1).mean())

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(hidden_channels={self.hidden_channels}, "
                f"num_layers={self.num_layers})")  # fmt: skip


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


class FootprintAutomaton(_Recurrence):
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
        self.count = mlp(IN_CHANNELS + state_channels, hidden_channels, 1, torch.nn.SiLU)
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
        return result._replace(output=output)

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


class RGRecurrent(_Recurrence):
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
        depth (int, optional): Lattice convolutions per level. (default: ``1``)
        iter_factor (float, optional): Iteration budget per unit of lattice
            diameter; every iteration covers the whole hierarchy, so the budget
            is tighter than that of the local models. (default: ``4.0``)
    """

    def __init__(self, state_channels: int = 4, hidden_channels: int = 16, depth: int = 1,
                 iter_factor: float = 4.0) -> None:  # fmt: skip
        super().__init__()
        self.state_channels = state_channels
        self.hidden_channels = hidden_channels
        self.depth = depth
        reduce = ("mean",) * 4 + ("max",) * (IN_CHANNELS - 4 + state_channels)
        self.net = RGNet(IN_CHANNELS + state_channels, hidden_channels, state_channels,
                         mode="exact", depth=depth, reduce=reduce)  # fmt: skip
        self.count = mlp(IN_CHANNELS + state_channels, hidden_channels, 1, torch.nn.SiLU)
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
            raise ValueError("sparse=True: RGRecurrent has no sparse iteration, since every "
                             "update reads the whole hierarchy; pass sparse=None or False")
        result = self.run(data, state, num_iters, False, callback, data=data)
        output = self.head(data.x, result.state, data.edge_index, data=data)
        return result._replace(output=output)

    def training_loss(self, batch: Any, generator: torch.Generator | None = None,
                      max_grad_iters: int = 4) -> Tensor:  # fmt: skip
        """As :meth:`FootprintAutomaton.training_loss`, backpropagating through at most
        ``max_grad_iters`` iterations (each one a pass over the whole hierarchy)."""
        return _progressive_footprint_loss(self, batch, generator, max_grad_iters)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(state_channels={self.state_channels}, "
                f"hidden_channels={self.hidden_channels}, depth={self.depth})")  # fmt: skip
