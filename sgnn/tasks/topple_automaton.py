r"""The toppling rule as a learned cellular automaton, trained on single steps (``"hint"``).

:class:`ToppleAutomaton` runs the synchronous dynamics of the avalanche with a learned
local rule on an ordinal state (the thermometer code of the height and a toppling
counter), supervised by one-step transitions replayed from the engine and by the rule's
whole local domain (:func:`~sgnn.tasks.topple_cases`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import Linear, Module
from torch.nn.functional import mse_loss

from .._checks import check_positive_int
from ..nn import AutomatonConv, Recurrent
from ..sandpile import avalanche_activity
from ._engine_replay import crowding, heights_and_sites, repeat_graphs
from ._recurrence import CountHead, Recurrence, check_input
from .local_rules import LocalCases
from .sandpile_rules import HEIGHT_BITS, IN_CHANNELS, thermometer, topple_cases

__all__ = ["ToppleAutomaton"]


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


class ToppleAutomaton(Recurrence):
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
                                   init=_StartRule(self.start), head=CountHead(HEIGHT_BITS),
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
        check_input(batch)
        check_positive_int(steps_per_graph, "steps_per_graph")
        heights, sites = heights_and_sites(batch)
        now, after, start = [], [], []
        for z, site in zip(heights, sites, strict=True):
            activity = avalanche_activity(z, divmod(site, z.shape[1]))
            start.append(activity.heights(0).reshape(-1))
            weights = crowding(activity)
            uniform = torch.randint(activity.num_steps + 1, ((steps_per_graph + 1) // 2,),
                                    generator=generator)  # fmt: skip
            crowded = torch.multinomial(torch.from_numpy(weights), steps_per_graph // 2,
                                        replacement=True, generator=generator)  # fmt: skip
            for t in torch.cat([uniform, crowded]).tolist():
                t_next = min(t + 1, activity.num_steps)
                n_t = activity.counts(t).reshape(-1)
                now.append(np.stack([activity.heights(t).reshape(-1), n_t], 1))
                after.append(
                    np.stack(
                        [
                            activity.heights(t_next).reshape(-1),
                            activity.counts(t_next).reshape(-1) - n_t,
                        ],
                        1,
                    )
                )
        device, dtype = batch.x.device, batch.x.dtype
        # Graph g's draws are copies g * k .. g * k + k - 1 of it, in this order.
        copies = repeat_graphs(batch, steps_per_graph)
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
        return ((g - step) ** 2).sum(1).mean() + (
            (self.start(cases.start_x.to(param)) - start) ** 2
        ).sum(1).mean()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(hidden_channels={self.hidden_channels}, "
                f"num_layers={self.num_layers})")  # fmt: skip
