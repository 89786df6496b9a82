r"""Verified local rules: a learned automaton checked on its whole finite local domain.

A recurrent model whose state is discrete and whose update reads only a node,
its input and the multiset of its neighbours' states (one hop, a symmetric
aggregation) has a *finite local domain*: every combination of an input, a
state and a multiset of neighbour states, for every degree the graphs can
have. If its update agrees with the true rule on every case of that domain,
it agrees with it on every graph built from those cases, of any size, at every
step; run until it settles, it reproduces the true dynamics exactly, on a
lattice of 16 sites or of a million.

:class:`LocalCases` holds such a domain as a batch of star graphs (one per
case: the centre and its neighbours), :func:`verify_rule` applies the model's
update to every centre and counts the cases it gets wrong, and
:func:`snap_rule` rounds the weights to a coarse grid (the rule's discrete
form, free of rounding noise) when the rounded rule still verifies.
:func:`train_until_verified` restarts a seeded, bounded number of times until
a trained rule verifies.

The guarantee has two limits, stated where it is used: the domain must hold
every case the dynamics can reach (the models here enumerate a superset), and
the recurrence must be given iterations enough to settle (its budget grows
with the lattice's diameter; a run that hits it reports ``converged=False``).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.nn import Module

__all__ = [
    "LocalCases",
    "RuleVerification",
    "multisets",
    "snap_rule",
    "star_graphs",
    "train_until_verified",
    "verify_rule",
]


@dataclass(frozen=True)
class LocalCases:
    r"""A rule's local domain as a batch of star graphs, with the true next states.

    Attributes:
        x (torch.Tensor): Static input of every node, :math:`(N, F)`.
        state (torch.Tensor): State of every node, :math:`(N, S)`.
        edge_index (torch.Tensor): Edges between each centre and its
            neighbours, both directions, :math:`(2, E)`.
        center (torch.Tensor): Index of the centre of every case, :math:`(C,)`.
        target (torch.Tensor): The true state of every centre after one
            update, :math:`(C, S)`.
        start_x (torch.Tensor): Inputs of the initial-state cases,
            :math:`(C_0, F)` (may be empty).
        start_target (torch.Tensor): Their true initial states,
            :math:`(C_0, S)`.
    """

    x: Tensor
    state: Tensor
    edge_index: Tensor
    center: Tensor
    target: Tensor
    start_x: Tensor
    start_target: Tensor

    @property
    def num_cases(self) -> int:
        """Update cases plus initial-state cases."""
        return int(self.center.numel() + self.start_x.size(0))


def star_graphs(center_state: Tensor, neighbour_states: Sequence[Tensor],
                degrees: Sequence[int]) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    r"""Star graphs of local cases: centre ``c`` joined to its ``degrees[c]`` neighbours.

    Args:
        center_state (torch.Tensor): State of every centre, :math:`(C, S)`.
        neighbour_states (Sequence[torch.Tensor]): For every centre, the states
            of its neighbours, :math:`(d_c, S)`.
        degrees (Sequence[int]): :math:`d_c` for every centre.

    Returns:
        ``(state, edge_index, center)``: the states of all nodes (each centre
        followed by its neighbours), the edges (both directions) and the index
        of every centre.
    """
    if center_state.dim() != 2 or len(neighbour_states) != center_state.size(0) or len(
            degrees) != center_state.size(0):  # fmt: skip
        raise ValueError("center_state must be (C, S) with one neighbour_states entry and one "
                         "degree per centre")  # fmt: skip
    degree = torch.as_tensor(list(degrees), dtype=torch.long)
    start = torch.cumsum(torch.cat([degree.new_zeros(1), degree[:-1] + 1]), 0)
    parts = [torch.cat([c[None], n.reshape(-1, center_state.size(1))]) for c, n in
             zip(center_state, neighbour_states, strict=True)]  # fmt: skip
    state = torch.cat(parts) if parts else center_state.new_zeros(0, center_state.size(1))
    leaf = torch.arange(state.size(0)) - torch.repeat_interleave(start, degree + 1)
    owner = torch.repeat_interleave(start, degree + 1)
    is_leaf = leaf > 0
    leaves, centres = torch.nonzero(is_leaf).view(-1), owner[is_leaf]
    edge_index = torch.cat([torch.stack([leaves, centres]), torch.stack([centres, leaves])], 1)
    return state, edge_index, start


def multisets(values: int, max_size: int) -> list[tuple[int, ...]]:
    """Every multiset of ``0..values-1`` of size ``0..max_size``, as sorted tuples."""
    for name, value, least in (("values", values, 1), ("max_size", max_size, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    return [m for d in range(max_size + 1)
            for m in itertools.combinations_with_replacement(range(values), d)]  # fmt: skip


@dataclass(frozen=True)
class RuleVerification:
    """What :func:`verify_rule` found: how many local cases a rule gets wrong, and which.

    Attributes:
        num_cases (int): Cases checked (updates and initial states).
        num_wrong (int): Cases where the rule's result differs from the true one.
        wrong (torch.Tensor): Indices of the wrong cases: update cases first
            (``0 .. C - 1``), then initial-state cases (``C ..``).
    """

    num_cases: int
    num_wrong: int
    wrong: Tensor

    @property
    def passed(self) -> bool:
        """True when the rule is right on every case."""
        return self.num_wrong == 0

    def __str__(self) -> str:
        return (f"verified: {'yes' if self.passed else 'no'} ({self.num_wrong} of "
                f"{self.num_cases} local cases wrong)")  # fmt: skip


def _recurrent(model: Module) -> Any:
    recurrent = getattr(model, "recurrent", None)
    if recurrent is None or not hasattr(model, "local_cases"):
        raise TypeError(f"model must have a local domain (local_cases()) and a Recurrent "
                        f"(recurrent), got {type(model).__name__}")  # fmt: skip
    return recurrent


def verify_rule(model: Module) -> RuleVerification:
    r"""Apply ``model``'s update and initial state to every case of its local domain.

    ``model`` must have ``local_cases()`` (a :class:`LocalCases`) and
    ``recurrent`` (a :class:`~sgnn.nn.Recurrent` whose block reads one hop).
    A case is right when the discretised next state of its centre (and the
    initial state of its input) equals the true one exactly.
    """
    recurrent = _recurrent(model)
    cases = model.local_cases()
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    with torch.no_grad():
        state = cases.state.to(device, dtype)
        u = recurrent.block(cases.x.to(device, dtype), state, cases.edge_index.to(device))
        new = recurrent.step(state, u)[cases.center.to(device)]
        wrong_step = (new != cases.target.to(device, dtype)).any(1)
        if cases.start_x.size(0):
            start = recurrent.initial_state(cases.start_x.to(device, dtype))
            wrong_start = (start != cases.start_target.to(device, dtype)).any(1)
        else:
            wrong_start = wrong_step.new_zeros(0)
    model.train(was_training)
    wrong = torch.nonzero(torch.cat([wrong_step, wrong_start])).view(-1).cpu()
    return RuleVerification(cases.num_cases, int(wrong.numel()), wrong)


def snap_rule(model: Module, grids: Sequence[float] = (1.0, 0.5, 0.25, 0.125)
              ) -> RuleVerification:  # fmt: skip
    r"""Round every weight of ``model`` to the coarsest grid on which it still verifies.

    Tries the grids in order (multiples of ``grid``); the first rounded model
    that passes :func:`verify_rule` is kept, in place. If none passes, the
    weights are left as they were. Returns the verification of the weights
    kept. A rule learned by gradient descent sits near, not on, its exact
    values; rounded, it is the exact rule itself, and stays exact however many
    times it is applied.
    """
    original = copy.deepcopy(model.state_dict())
    for grid in grids:
        if not grid > 0:
            raise ValueError(f"grids must hold positive numbers, got {grid!r}")
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.round(p / grid) * grid)
        result = verify_rule(model)
        if result.passed:
            return result
        model.load_state_dict(original)
    return verify_rule(model)


def train_until_verified(build: Callable[[int], Module], train: Callable[[Module, int], Any],
                         seed: int = 0, restarts: int = 2,
                         print_fn: Callable[[str], None] | None = None
                         ) -> tuple[Module, Any, RuleVerification, int]:  # fmt: skip
    r"""Train, snap and verify a rule; restart with the next seed while it fails.

    Attempt :math:`a = 0, 1, \dots,` ``restarts`` builds ``build(seed + a)``,
    trains it with ``train(model, seed + a)`` and calls its ``snap()`` if it
    has one, else :func:`snap_rule`; the
    first model that verifies is returned. If none does, the last one is.

    Args:
        build (Callable): ``build(seed)``, a fresh model seeded with ``seed``.
        train (Callable): ``train(model, seed)``; its result is returned.
        seed (int, optional): Seed of the first attempt. (default: ``0``)
        restarts (int, optional): Attempts after the first. (default: ``2``)
        print_fn (Callable, optional): Receives one line per attempt.
            (default: :obj:`None`)

    Returns:
        ``(model, result of train, verification, attempts made)``.
    """
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 0:
        raise ValueError(f"restarts must be a non-negative int, got {restarts!r}")
    for attempt in range(restarts + 1):
        model = build(seed + attempt)
        result = train(model, seed + attempt)
        # A model may know how to bring its rule to the grid first (CountAutomaton.snap).
        verification = model.snap() if hasattr(model, "snap") else snap_rule(model)
        if print_fn is not None:
            print_fn(f"attempt {attempt + 1} of {restarts + 1} (seed {seed + attempt}): "
                f"{verification}")  # fmt: skip
        if verification.passed:
            break
    return model, result, verification, attempt + 1
