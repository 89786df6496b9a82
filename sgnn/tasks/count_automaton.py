r"""The avalanche as the least fixed point of a learned counting rule (the ``"count"`` model).

The toppling counts :math:`n_i` of an avalanche started by one grain on a
stable pile are the least fixed point, reached from :math:`n = 0`, of the
monotone map

.. math::
    n_i \leftarrow \max\Big(n_i,\ \Big\lfloor \frac{z_i + o_i
        + \sum_{j \sim i} n_j}{4} \Big\rfloor\Big)

(the least-action principle of the abelian sandpile). :class:`CountAutomaton`
learns this map as *one* linear rule whose thresholds are tied,
:math:`4k` for the :math:`k`-th toppling, and iterates it with
:class:`~sgnn.nn.Recurrent` until the counts settle. :func:`count_cases` is
its local domain for :func:`~sgnn.tasks.verify_rule`; its staged training is
:func:`~sgnn.tasks.train_count_automaton`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import Linear, Module, Parameter
from torch.nn.functional import binary_cross_entropy_with_logits

from ..nn import Recurrent
from ..train.loop import num_graphs
from ._recurrence import CountHead, Recurrence, lattice_diameter
from .local_rules import LocalCases, RuleVerification, multisets, snap_rule, star_graphs
from .sandpile_losses import _node_batch, _soft_iou
from .sandpile_rules import IN_CHANNELS, MAX_DEGREE, start_inputs

__all__ = ["CountAutomaton", "count_cases"]


# Supervision settings: what an observer sees (the toppled set) or how often each site erupted.
_SUPERVISIONS = ("footprint", "counts")
# The smallest threshold step the rule uses; a smaller learned value is clamped to it.
_GAMMA_MIN = 0.125
# Largest own and neighbour count of the local domain checked by default.
_CASE_COUNT = 8


def count_cases(max_count: int = _CASE_COUNT) -> LocalCases:
    r"""The local domain of the counting rule, for :class:`CountAutomaton`.

    Update cases: every input (height :math:`z \in 0..3`, 0 to 4 missing
    neighbours, drop site :math:`o \in \{0, 1\}`) times every own count
    :math:`n_i \in 0..K` times every multiset of 0 to 4 neighbour counts in
    :math:`0..K` (:math:`K` = ``max_count``), whatever the degree the input
    implies, with the true next count
    :math:`\max(n_i, \lfloor (z + o + \sum_j n_j) / 4 \rfloor)`. The initial
    state is zero counts, so the 40 inputs are initial-state cases with target 0.

    A rule that verifies on this domain is exact on every avalanche in which no
    site topples more than :math:`K` times: from :math:`n = 0` the iteration
    climbs monotonically to the least fixed point, so every state it visits is
    bounded by the final counts and every local case it meets is in the domain.

    Args:
        max_count (int, optional): :math:`K`. (default: ``8``, 257 400 update cases)
    """
    if isinstance(max_count, bool) or not isinstance(max_count, int) or max_count < 1:
        raise ValueError(f"max_count must be a positive int, got {max_count!r}")
    inputs, height, drop = start_inputs()
    sets = multisets(max_count + 1, MAX_DEGREE)
    # One star graph per (own count, multiset), tiled below over the 40 inputs.
    own = torch.arange(max_count + 1).repeat_interleave(len(sets))
    neighbours = [torch.tensor(m, dtype=torch.float64)[:, None] for m in sets] * (max_count + 1)
    degrees = [len(m) for m in sets] * (max_count + 1)
    state, edge_index, center = star_graphs(own.double()[:, None], neighbours, degrees)
    sums = torch.tensor([sum(m) for m in sets], dtype=torch.long).repeat(max_count + 1)
    num_inputs, num_nodes = inputs.size(0), state.size(0)
    x = torch.zeros(num_inputs * num_nodes, IN_CHANNELS, dtype=torch.float64)
    centres = (center[None, :] + num_nodes * torch.arange(num_inputs)[:, None]).reshape(-1)
    x[centres] = inputs.repeat_interleave(center.numel(), 0)
    load = (height + drop)[:, None] + sums[None, :]
    target = torch.maximum(own[None, :], torch.div(load, 4, rounding_mode="floor"))
    edges = edge_index.repeat(1, num_inputs) + torch.arange(num_inputs).repeat_interleave(
        edge_index.size(1)) * num_nodes  # fmt: skip
    return LocalCases(
        x,
        state.repeat(num_inputs, 1),
        edges,
        centres,
        target.reshape(-1, 1).double(),
        inputs,
        torch.zeros(num_inputs, 1, dtype=torch.float64),
    )


def _counts(u: Tensor, gamma: Tensor, cap: int | None) -> Tensor:
    r"""The proposed count :math:`\#\{k \ge 1 : u - \gamma (k - 1) > 0\}`, capped, with the
    gradient of the sigmoid sum :math:`\sum_k \sigma(u - \gamma (k - 1))` (straight through)."""
    hard = torch.ceil(u / gamma).clamp(min=0)
    if cap is not None:
        hard = hard.clamp(max=cap)
    if not (u.requires_grad or gamma.requires_grad) or not torch.is_grad_enabled():
        return hard
    top = int(hard.max()) + 1 if hard.numel() else 1
    top = top if cap is None else min(top, cap)
    levels = torch.arange(top, device=u.device, dtype=u.dtype)
    soft = torch.sigmoid(u[:, None] - gamma * levels).sum(1)
    return soft + (hard - soft).detach()


class _CountRule(Module):
    r"""The rule's block: the proposed count of every site from its input and the sum of
    its neighbours' counts (one hop)."""

    num_hops = 1

    def __init__(self, max_count: int | None) -> None:
        super().__init__()
        self.lin = Linear(IN_CHANNELS, 1)
        self.beta = Parameter(torch.empty(()))
        self.gamma = Parameter(torch.empty(()))
        self.max_count = max_count

    def step_size(self) -> Tensor:
        r""":math:`\gamma`, clamped to at least 1/8."""
        return self.gamma.clamp(min=_GAMMA_MIN)

    def pre_activation(self, x: Tensor, state: Tensor, edge_index: Tensor) -> Tensor:
        r"""The pre-activation
        :math:`u_i = \mathbf{w} \cdot \mathbf{x}_i + \beta \sum_{j \sim i} n_j + c`,
        :math:`(N,)`."""
        n = state[:, 0]
        received = torch.zeros_like(n).index_add(0, edge_index[1], n[edge_index[0]])
        return self.lin(x)[:, 0] + self.beta.clamp(min=0) * received

    def forward(self, x: Tensor, state: Tensor, edge_index: Tensor) -> Tensor:
        u = self.pre_activation(x, state, edge_index)
        return _counts(u, self.step_size(), self.max_count)[:, None]


class CountAutomaton(Recurrence):
    r"""The avalanche as the least fixed point of a learned, threshold-tied counting rule.

    The state of a site is its toppling count :math:`n_i`, started at zero
    and raised, never lowered, by one linear rule read at thresholds spaced
    by a learned step :math:`\gamma > 0`:

    .. math::
        u_i = \mathbf{w} \cdot \mathbf{x}_i + \beta \sum_{j \sim i} n_j + c,
        \qquad
        n_i' = \max\big(n_i,\ \#\{k \ge 1 : u_i - \gamma (k - 1) > 0\}\big)
             = \max\big(n_i,\ \lceil u_i / \gamma \rceil^{+}\big),

    with a straight-through gradient (that of
    :math:`\sum_k \sigma(u_i - \gamma(k - 1))`). The state is monotone and
    integer, and the map is monotone (:math:`\beta` is clamped to
    :math:`\ge 0` where used), so it settles; :class:`~sgnn.nn.Recurrent` iterates it until it
    does (sparsely at evaluation: only sites whose neighbourhood changed are
    recomputed). The least-action principle of the sandpile,
    :math:`n_i = \lfloor (z_i + o_i + \sum_{j \sim i} n_j) / 4 \rfloor`, is
    one such rule: :math:`\mathbf{w} = (0, 1, 2, 3)` on the one-hot height,
    1 on the drop site and 0 on the missing neighbours, :math:`\beta = 1`,
    :math:`c = -7/2`, :math:`\gamma = 4`. With :math:`\gamma` large (one
    threshold) the rule's least fixed point is the first wave.

    Outputs, as the other footprint models: the toppled logit :math:`n - 1/2`
    and :math:`\log(1 + n)`. The rule reads a node and the sum of its
    neighbours' states through symmetric weights, so the model commutes with
    node permutations and the symmetries of the lattice.

    :meth:`training_loss` supervises either the toppled set alone
    (``supervision="footprint"``, what an observer sees) or the toppling
    counts (``"counts"``). :meth:`local_cases` is the rule's local domain
    (:func:`count_cases`): a rule that passes
    :func:`~sgnn.tasks.verify_rule` is exact on every avalanche in which no
    site topples more than ``case_count`` times. :math:`\gamma` is a plain
    parameter (clamped to at least 1/8 where used), so
    :func:`~sgnn.tasks.snap_rule` rounds it with the other weights.

    Args:
        supervision (str, optional): ``"footprint"`` or ``"counts"``.
            (default: ``"footprint"``)
        max_count (int, optional): Cap on a proposed count, which keeps the
            state bounded while a rule is still wrong (:obj:`None`: no cap).
            (default: ``64``)
        case_count (int, optional): :math:`K` of :meth:`local_cases`.
            (default: ``8``)
        iter_factor (float, optional): Iteration budget per unit of lattice
            diameter. (default: ``16.0``)

    Shapes:
        - **input:** a footprint batch: ``x`` :math:`(N, 6)`, ``edge_index``
          :math:`(2, E)`, ``lattice_shape``
        - **output:** :class:`~sgnn.nn.RecurrentOutput`, ``node``
          :math:`(N, 2)`, ``state`` :math:`(N, 1)`
    """

    def __init__(self, supervision: str = "footprint", max_count: int | None = 64,
                 case_count: int = _CASE_COUNT, iter_factor: float = 16.0) -> None:  # fmt: skip
        super().__init__()
        if supervision not in _SUPERVISIONS:
            raise ValueError(f"supervision must be one of {_SUPERVISIONS}, got {supervision!r}")
        if max_count is not None and (isinstance(max_count, bool) or not isinstance(
                max_count, int) or max_count < 1):  # fmt: skip
            raise ValueError(f"max_count must be a positive int or None, got {max_count!r}")
        if isinstance(case_count, bool) or not isinstance(case_count, int) or case_count < 1:
            raise ValueError(f"case_count must be a positive int, got {case_count!r}")
        self.supervision = supervision
        self.max_count = max_count
        self.case_count = case_count
        self.rule = _CountRule(max_count)
        self.recurrent = Recurrent(self.rule, 1, head=CountHead(0), update="max",
                                   iter_factor=iter_factor)  # fmt: skip
        self._cases: LocalCases | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """A generic start: random input weights, :math:`c = -2` (quiet: nothing topples
        without a reason), :math:`\\beta = 1/2`, :math:`\\gamma = 2`."""
        self.rule.lin.reset_parameters()
        with torch.no_grad():
            self.rule.lin.bias.fill_(-2.0)
            self.rule.beta.fill_(0.5)
            self.rule.gamma.fill_(2.0)

    def set_exact(self) -> CountAutomaton:
        """Set the weights of the least-action rule (:math:`c = -7/2`, :math:`\\gamma = 4`);
        returns the model."""
        with torch.no_grad():
            self.rule.lin.weight.copy_(torch.tensor([[0.0, 1.0, 2.0, 3.0, 0.0, 1.0]]))
            self.rule.lin.bias.fill_(-3.5)
            self.rule.beta.fill_(1.0)
            self.rule.gamma.fill_(4.0)
        return self

    def normalize(self) -> CountAutomaton:
        r"""Rescale the rule to :math:`\beta = 1` and fold :math:`c` into the height
        weights (the one-hot height sums to 1), which leaves every count unchanged (the
        rule is invariant under a positive rescaling of :math:`\mathbf{w}, c, \beta,
        \gamma`); a rule learned at any scale then sits near the exact weights on the
        grids of :func:`~sgnn.tasks.snap_rule`. Needs :math:`\beta > 0`; returns the model."""
        beta = float(self.rule.beta.detach())
        if not beta > 0:
            raise ValueError(f"normalize needs beta > 0, got {beta}")
        with torch.no_grad():
            self.rule.lin.weight[0, :4] += self.rule.lin.bias[0]
            self.rule.lin.bias.zero_()
            self.rule.lin.weight.div_(beta)
            self.rule.gamma.div_(beta)
            self.rule.beta.fill_(1.0)
        return self

    def snap(self) -> RuleVerification:
        """:meth:`normalize`, then :func:`~sgnn.tasks.snap_rule`: the rounded rule is kept
        if it verifies. Returns the verification of the weights kept."""
        if float(self.rule.beta.detach()) > 0:
            self.normalize()
        return snap_rule(self)

    def training_loss(self, batch: Any, generator: torch.Generator | None = None,
                      max_grad_iters: int = 4,
                      teacher_forcing: bool | None = None) -> Tensor:  # fmt: skip
        r"""The training loss of the chosen supervision, read where the rule settles.

        The model runs without gradients until it settles (:math:`T` iterations), then
        :math:`k \in [\max(0, T - m), T + D]` iterations without and :math:`m \le`
        ``max_grad_iters`` with gradients (:math:`D` the lattice diameter: it must also
        stay put), as in :func:`~sgnn.train.progressive_loss`; the rule is applied once
        more to the reached state (undetached) and its pre-activation is compared with
        the truth:

        * ``"footprint"``: binary cross-entropy of :math:`u_i` (positive where site
          :math:`i` topples) against the toppled set, plus :math:`1 -` the mean soft
          IoU;
        * ``"counts"``: the ordinal binary cross-entropy of every threshold,
          :math:`\sum_k \text{BCE}(u_i - \gamma(k - 1), [n_i \ge k])`, against the
          true counts.

        With ``teacher_forcing`` (the default for ``"counts"``) the rule is instead
        applied once to the *true* counts, a local loss that asks them to be a fixed
        point, with no recurrence at all; for ``"footprint"`` the state is the toppled
        set (a count of 1 on every toppled site) and only the first threshold is
        supervised, which the first wave satisfies (a site that only later waves reach
        may not: its neighbours topple more than once).
        """
        if teacher_forcing is None:
            teacher_forcing = self.supervision == "counts"
        counts = batch.topplings if self.supervision == "counts" else batch.toppled.long()
        if self.rule.max_count is not None:
            counts = counts.clamp(max=self.rule.max_count)
        active = _near(counts > 0, batch.edge_index)
        if teacher_forcing:  # the true counts (or toppled set) as the state
            true = counts.to(batch.x.dtype)[:, None]
            u = self.rule.pre_activation(batch.x, true, batch.edge_index)
            cap = self.rule.max_count if self.supervision == "counts" else 1
            return _ordinal_loss(u, self.rule.step_size(), counts, active, cap)
        state = self._progressive_state(batch, generator, max_grad_iters)
        u = self.rule.pre_activation(batch.x, state, batch.edge_index)
        active = active | _near(state[:, 0].detach() > 0, batch.edge_index)
        if self.supervision == "counts":
            return _ordinal_loss(u, self.rule.step_size(), counts, active, self.rule.max_count)
        return _footprint_loss(u, batch, active)

    def _progressive_state(self, batch: Any, generator: torch.Generator | None,
                           max_grad_iters: int) -> Tensor:  # fmt: skip
        with torch.no_grad():
            settled = int(self(batch).iterations.max())
        extra = int(lattice_diameter(batch).max())
        m = int(torch.randint(1, max_grad_iters + 1, (1,), generator=generator))
        low = max(0, settled - m)
        k = int(torch.randint(low, settled + extra + 1, (1,), generator=generator))
        with torch.no_grad():
            state = self(batch, num_iters=k).state
        return self(batch, state=state, num_iters=m, sparse=False).state

    def local_cases(self) -> LocalCases:
        """The rule's local domain (:func:`count_cases` with ``case_count``), for
        :func:`~sgnn.tasks.verify_rule`."""
        if self._cases is None:
            self._cases = count_cases(self.case_count)
        return self._cases

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(supervision={self.supervision!r}, "
                f"max_count={self.max_count}, case_count={self.case_count})")  # fmt: skip


def _near(mask: Tensor, edge_index: Tensor) -> Tensor:
    """``mask`` and the neighbours of its nodes."""
    hit = torch.zeros(mask.numel(), dtype=torch.long, device=mask.device)
    hit.index_add_(0, edge_index[1], mask[edge_index[0]].long())
    return mask | (hit > 0)


def _both_means(values: Tensor, active: Tensor) -> Tensor:
    """Mean over all sites plus mean over the active ones (where the avalanche is: most
    sites of a lattice sit still and would drown the rare cases)."""
    return values.mean() + values[active].sum() / active.sum().clamp(min=1)


def _ordinal_loss(u: Tensor, gamma: Tensor, counts: Tensor, active: Tensor,
                  cap: int | None) -> Tensor:  # fmt: skip
    """Summed BCE of every threshold ``k = 1..max + 1`` (at most ``cap``), averaged by
    :func:`_both_means`."""
    top = int(counts.max()) + 1 if counts.numel() else 1
    top = top if cap is None else min(top, cap)
    levels = torch.arange(top, device=u.device, dtype=u.dtype)
    logits = u[:, None] - gamma * levels
    target = (counts[:, None] > levels).to(u.dtype)
    bce = binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1)
    return _both_means(bce, active)


def _footprint_loss(u: Tensor, batch: Any, active: Tensor) -> Tensor:
    toppled = batch.toppled.to(u.dtype)
    bce = _both_means(binary_cross_entropy_with_logits(u, toppled, reduction="none"), active)
    iou = _soft_iou(u, toppled, _node_batch(batch, toppled), num_graphs(batch))
    return bce + 1 - iou.mean()
