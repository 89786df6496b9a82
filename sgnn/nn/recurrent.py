"""Weight-tied recurrence run until the state settles, one graph at a time in a batch."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.nn import Module

from .._checks import check_int, check_number
from ._checks import batch_and_count, check_edge_index, check_node_features
from ._diameter import graph_diameter_bound
from ._frontier import Adjacency
from ._iteration import count_iteration, graph_max, raise_if_non_finite, stop_non_finite
from ._reset import reset_children
from ._state_update import DISCRETIZATIONS, UPDATES, combine, discretize

__all__ = ["Recurrent", "RecurrentOutput", "graph_diameter_bound"]


class RecurrentOutput(NamedTuple):
    """What :class:`Recurrent` returns: four tensors, named."""

    #: The node outputs, ``head(x, state)``, or the state without a head.
    node: Tensor
    #: The final state, :math:`(N, S)`.
    state: Tensor
    #: Iterations each graph ran, long, :math:`(B,)`.
    iterations: Tensor
    #: Whether each graph's state settled (changed by at most ``tol`` in its last
    #: iteration), bool, :math:`(B,)`.
    converged: Tensor

    @property
    def output(self) -> Tensor:
        """Deprecated name of :attr:`node` (goes in 0.5)."""
        warnings.warn("RecurrentOutput.output is now .node; output goes in 0.5",
                      DeprecationWarning, stacklevel=2)  # fmt: skip
        return self.node


class Recurrent(Module):
    r"""Iterate a block with tied weights until its state settles, graph by graph.

    An encode--process--decode recurrence with *recall* (the input is
    re-injected at every step, Bansal et al. 2022):

    .. math::
        \mathbf{s}^{(0)} = D\big(\text{init}(\mathbf{x})\big), \qquad
        \mathbf{s}^{(t+1)} = U\Big(\mathbf{s}^{(t)},\
            D\big(\text{block}(\mathbf{x}, \mathbf{s}^{(t)}, \mathcal{E})\big)\Big),
        \qquad \mathbf{y} = \text{head}(\mathbf{x}, \mathbf{s}^{(T)}),

    where :math:`D` discretises (``"step"``: :math:`[u > 0]`, ``"argmax"``:
    the one-hot of the largest entry, ``"round"``: the nearest integer; each
    with a straight-through gradient, so the recurrence trains by
    backpropagation; ``"none"``: the identity) and :math:`U` combines
    (``"replace"``: :math:`s' = d`; ``"max"``: :math:`s' = \max(s, d)`, a
    monotone state, which with a discrete state must settle; ``"add"``:
    :math:`s' = s + d`, a counter). The state may be split into groups of
    channels, each with its own :math:`D` and :math:`U` (say a one-hot part
    and a counter).

    Without ``num_iters`` each graph of a batch runs until its state changes
    by at most ``tol`` (largest absolute change over its nodes), and stops
    there while the others go on, so a batch gives the same result as its
    graphs one by one. A graph that has not settled after
    :math:`\lceil c \cdot \text{diameter} \rceil` iterations (``iter_factor``
    :math:`c`; ``max_iters`` caps it further) stops unconverged: the budget
    grows with the graph, as it must for algorithms whose number of
    sequential steps does, and nothing can run forever. With ``num_iters``
    every graph runs exactly that many iterations (training with random
    iteration counts).

    **Non-finite states.** A graph whose state or block output becomes NaN or
    inf (from ``x``, the initial state or the block) stops at that iteration,
    and the call then raises a ``ValueError`` naming the graph and the
    iteration, instead of running out its budget and reporting it unconverged.
    The check runs on every device, with no extra synchronisation per
    iteration. A block whose output is not as wide as the state raises a
    ``ValueError`` at construction (from ``block.out_channels``, when it has
    one) or at the first iteration.

    **Sparse iteration.** If the block's receptive field is ``num_hops``
    hops (an attribute of the block, or the argument), a node whose
    ``num_hops``-neighbourhood did not change in the last iteration would
    compute what it computed before, which left it unchanged; without
    gradients only the others are recomputed, on the subgraph they need. The
    result is identical; the cost follows the activity instead of the graph
    size (a small avalanche on a large lattice touches few nodes per step).

    **Equivariance.** If the block, ``init`` and ``head`` commute with node
    permutations (or lattice symmetries), so does the recurrence, including
    its stopping rule.

    Args:
        block (torch.nn.Module): Called as ``block(x, state, edge_index,
            **kwargs)``, returning :math:`(N, S)`.
        state_channels (int or Sequence[int]): :math:`S`, or the sizes of the
            state's groups.
        init (torch.nn.Module, optional): ``init(x)`` gives the initial state
            (before :math:`D`). (default: :obj:`None`, zeros)
        head (torch.nn.Module, optional): ``head(x, state)`` gives the output.
            (default: :obj:`None`, the state)
        update (str or Sequence[str], optional): :math:`U` for all groups or
            per group. (default: ``"replace"``)
        discretize (str or Sequence[str], optional): :math:`D` for all groups
            or per group. (default: ``"none"``)
        tol (float, optional): Convergence tolerance. (default: ``0.0``)
        iter_factor (float, optional): Iterations allowed per unit of graph
            diameter. (default: ``16.0``)
        max_iters (int, optional): An absolute cap on the iterations.
            (default: :obj:`None`)
        max_iter (int, optional): Deprecated name of ``max_iters``.
        num_hops (int, optional): Receptive field of ``block`` in hops, which
            enables sparse iteration; ``block.num_hops`` if omitted and
            present. (default: :obj:`None`)

    Shapes:
        - **input:** ``x`` :math:`(N, F)`, ``edge_index`` :math:`(2, E)`,
          ``batch`` :math:`(N,)` *(optional)*, ``state`` :math:`(N, S)`
          *(optional)*
        - **output:** :class:`RecurrentOutput`
    """

    def __init__(
        self,
        block: Module,
        state_channels: int | Sequence[int],
        init: Module | None = None,
        head: Module | None = None,
        update: str | Sequence[str] = "replace",
        discretize: str | Sequence[str] = "none",
        tol: float = 0.0,
        iter_factor: float = 16.0,
        max_iters: int | None = None,
        num_hops: int | None = None,
        max_iter: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(block, Module):
            raise TypeError(f"block must be a torch.nn.Module, got {type(block).__name__}")
        groups = tuple(state_channels) if isinstance(state_channels, Sequence) else (
            state_channels,)  # fmt: skip
        if not groups:
            raise ValueError("state_channels must be a positive int or a sequence of them, "
                             "got an empty sequence")  # fmt: skip
        groups = tuple(check_int(g, "state_channels") for g in groups)
        self.groups = groups
        self.state_channels = sum(groups)
        self.update = _per_group(update, UPDATES, len(groups), "update")
        self.discretize = _per_group(discretize, DISCRETIZATIONS, len(groups), "discretize")
        tol = check_number(tol, "tol")
        iter_factor = check_number(iter_factor, "iter_factor", strict=True)
        if max_iter is not None:
            warnings.warn("Recurrent(max_iter=) is now max_iters=; max_iter goes in 0.5",
                          DeprecationWarning, stacklevel=2)  # fmt: skip
            if max_iters is None:
                max_iters = max_iter
        max_iters = check_int(max_iters, "max_iters", optional=True)
        hops = num_hops if num_hops is not None else getattr(block, "num_hops", None)
        hops = check_int(hops, "num_hops", optional=True)
        width = getattr(block, "out_channels", None)
        if isinstance(width, int) and not isinstance(width, bool) and width != sum(groups):
            raise ValueError(f"block returns out_channels={width} per node but state_channels "
                             f"is {sum(groups)}; the block's output must be as wide as the "
                             "state")  # fmt: skip
        self.block = block
        self.init = init
        self.head = head
        self.tol = float(tol)
        self.iter_factor = float(iter_factor)
        self.max_iters = max_iters
        self.num_hops = hops

    def reset_parameters(self) -> None:
        reset_children(self)

    # ----------------------------------------------------------------- helpers
    def step(self, state: Tensor, u: Tensor) -> Tensor:
        """One update :math:`U(s, D(u))` of the state, group by group."""
        if not isinstance(u, Tensor) or u.shape != state.shape:
            got = tuple(u.shape) if isinstance(u, Tensor) else type(u).__name__
            raise ValueError(f"the block must return one row of state_channels="
                             f"{self.state_channels} per node, shape {tuple(state.shape)}, "
                             f"got {got}")  # fmt: skip
        if len(self.groups) == 1:
            return combine(state, discretize(u, self.discretize[0]), self.update[0])
        parts = []
        for s, v, kind, upd in zip(state.split(self.groups, 1), u.split(self.groups, 1),
                                   self.discretize, self.update, strict=True):  # fmt: skip
            parts.append(combine(s, discretize(v, kind), upd))
        return torch.cat(parts, dim=1)

    def initial_state(self, x: Tensor) -> Tensor:
        """:math:`D(\\text{init}(x))`, or zeros without ``init``."""
        if self.init is None:
            return x.new_zeros(x.size(0), self.state_channels)
        s0 = self.init(x)
        check_node_features(s0, self.state_channels, "init(x)", num_nodes=x.size(0))
        parts = [discretize(v, kind) for v, kind in zip(s0.split(self.groups, 1),
                                                        self.discretize, strict=True)]  # fmt: skip
        return torch.cat(parts, dim=1)

    def iteration_limits(self, diameter: Tensor) -> Tensor:
        """Per-graph budget :math:`\\lceil c \\cdot \\max(d, 1) \\rceil`, capped by
        ``max_iters``."""
        limit = torch.ceil(self.iter_factor * diameter.double().clamp(min=1)).long()
        if self.max_iters is not None:
            limit = limit.clamp(max=self.max_iters)
        return limit.clamp(min=1)

    # ----------------------------------------------------------------- forward
    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor | None = None,
        state: Tensor | None = None,
        num_iters: int | None = None,
        diameter: Tensor | float | None = None,
        sparse: bool | None = None,
        callback: Callable[[int, Tensor], None] | None = None,
        **kwargs: Any,
    ) -> RecurrentOutput:
        r"""Run the recurrence.

        Args:
            x (torch.Tensor): Static input, :math:`(N, F)`.
            edge_index (torch.Tensor): :math:`(2, E)`.
            batch (torch.Tensor, optional): Graph of every node, sorted.
                (default: one graph)
            state (torch.Tensor, optional): Start from this state instead of
                :math:`D(\text{init}(x))`. (default: :obj:`None`)
            num_iters (int, optional): Run exactly this many iterations.
                (default: :obj:`None`, until every graph settles)
            diameter (torch.Tensor or float, optional): Each graph's diameter
                (or an upper bound), :math:`(B,)` or one number for all, which
                sets the budget. (default: :obj:`None`, computed by
                :func:`graph_diameter_bound`)
            sparse (bool, optional): Force sparse (``True``) or dense
                (``False``) iteration. (default: :obj:`None`: sparse when the
                block has ``num_hops`` and gradients are off)
            callback (Callable, optional): ``callback(t, state)`` after every
                iteration :math:`t = 1, 2, \dots`. (default: :obj:`None`)
            **kwargs: Passed on to ``block`` (dense iteration only, except
                ``edge_attr``, whose rows follow the edges).
        """
        check_node_features(x, None, "x")
        n = x.size(0)
        check_edge_index(edge_index, n)
        if edge_index.layout != torch.strided:
            raise ValueError("edge_index must be a (2, E) tensor; Recurrent iterates on edges")
        batch, num_graphs = batch_and_count(batch, n, x.device)
        if state is None:
            state = self.initial_state(x)
        else:
            check_node_features(state, self.state_channels, "state", num_nodes=n)
        num_iters = check_int(num_iters, "num_iters", minimum=0, optional=True)
        use_sparse = sparse if sparse is not None else (
            self.num_hops is not None and not torch.is_grad_enabled())  # fmt: skip
        if use_sparse:
            if self.num_hops is None:
                raise ValueError("sparse iteration needs num_hops (the block's receptive field)")
            if torch.is_grad_enabled() and state.requires_grad:
                raise ValueError("sparse iteration runs without gradients; use torch.no_grad()")
            if set(kwargs) - {"edge_attr"}:
                raise ValueError(f"sparse iteration passes only edge_attr on to the block, got "
                                 f"{sorted(kwargs)}; use sparse=False")  # fmt: skip
        if num_iters is not None:
            limits = torch.full((num_graphs,), num_iters, dtype=torch.long, device=x.device)
            tol = -1.0  # never stop early
        else:
            if diameter is None:
                diameter = graph_diameter_bound(edge_index, batch, num_graphs)
            diameter = torch.as_tensor(diameter, device=x.device).reshape(-1).double()
            if diameter.numel() == 1:
                diameter = diameter.expand(num_graphs)
            if diameter.numel() != num_graphs or not torch.all(torch.isfinite(diameter)):
                raise ValueError(f"diameter must be one finite number or one per graph "
                                 f"({num_graphs}), got shape {tuple(diameter.shape)}")  # fmt: skip
            limits = self.iteration_limits(diameter)
            tol = self.tol
        run = self._run_sparse if use_sparse else self._run_dense
        state, iterations, converged = run(x, edge_index, batch, num_graphs, state, limits, tol,
                                           callback, kwargs)  # fmt: skip
        output = state if self.head is None else self.head(x, state)
        return RecurrentOutput(output, state, iterations, converged)

    def _run_dense(self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int,
                   state: Tensor, limits: Tensor, tol: float, callback: Any,
                   kwargs: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
        iterations = torch.zeros(num_graphs, dtype=torch.long, device=x.device)
        converged = torch.zeros(num_graphs, dtype=torch.bool, device=x.device)
        failed = torch.zeros(num_graphs, dtype=torch.long, device=x.device)
        stopped = limits <= 0
        t = 0
        while not bool(stopped.all()):
            u = self.block(x, state, edge_index, **kwargs)
            new = self.step(state, u)
            diff = (new - state).detach().abs().amax(dim=1)
            change = graph_max(diff, batch, num_graphs)
            running = ~stopped
            if tol >= 0:
                new = torch.where(stopped[batch, None], state, new)
            state = new
            t += 1
            converged, stopped = count_iteration(running, change, tol, iterations, converged,
                                                  stopped, limits)  # fmt: skip
            stopped = stop_non_finite(u, diff, batch, num_graphs, running, failed, t, stopped)
            if callback is not None:
                callback(t, state)
        raise_if_non_finite(failed)
        return state, iterations, converged

    def _run_sparse(self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int,
                    state: Tensor, limits: Tensor, tol: float, callback: Any,
                    kwargs: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
        n = x.size(0)
        hops = int(self.num_hops)  # type: ignore[arg-type]
        graph: Adjacency | None = None  # built once a second iteration needs it
        edge_attr = kwargs.get("edge_attr")
        state = state.clone()
        iterations = torch.zeros(num_graphs, dtype=torch.long, device=x.device)
        converged = torch.zeros(num_graphs, dtype=torch.bool, device=x.device)
        failed = torch.zeros(num_graphs, dtype=torch.long, device=x.device)
        stopped = limits <= 0
        active = torch.arange(n, device=x.device)  # everything, the first time
        local = torch.full((n,), -1, dtype=torch.long, device=x.device)
        t = 0
        while not bool(stopped.all()):
            active = active[~stopped[batch[active]]]
            running = ~stopped
            if t == 0 and active.numel() == n:  # everything is active: no subgraph to cut
                old = state.clone()
                u = self.block(x, state, edge_index, **kwargs)
                new = self.step(old, u)
            elif active.numel():
                graph = graph or Adjacency(edge_index, n)
                nodes, edges = graph.upstream(active, hops)
                local[nodes] = torch.arange(nodes.numel(), device=x.device)
                sub_edges = local[edge_index[:, edges]]
                extra = {} if edge_attr is None else {"edge_attr": edge_attr[edges]}
                u = self.block(x[nodes], state[nodes], sub_edges, **extra)
                rows = local[active]
                local[nodes] = -1
                old = state[active]
                u = u[rows]
                new = self.step(old, u)
            if active.numel():
                diff = (new - old).abs().amax(dim=1)
                state[active] = new
                change = graph_max(diff, batch[active], num_graphs)
                changed = active[diff > 0]
            else:
                change = torch.zeros(num_graphs, dtype=state.dtype, device=x.device)
                changed = active
            t += 1
            converged, stopped = count_iteration(running, change, tol, iterations, converged,
                                                  stopped, limits)  # fmt: skip
            if active.numel():
                stopped = stop_non_finite(u, diff, batch[active], num_graphs, running, failed,
                                           t, stopped)  # fmt: skip
            if callback is not None:
                callback(t, state)
            if changed.numel() and not bool(stopped.all()):
                graph = graph or Adjacency(edge_index, n)
                active = graph.downstream(changed, hops)
            else:
                active = changed
        raise_if_non_finite(failed)
        return state, iterations, converged

    def __repr__(self) -> str:
        groups = self.groups[0] if len(self.groups) == 1 else list(self.groups)
        upd = self.update[0] if len(set(self.update)) == 1 else list(self.update)
        disc = self.discretize[0] if len(set(self.discretize)) == 1 else list(self.discretize)
        return (
            f"{type(self).__name__}({self.block}, state_channels={groups}, update={upd!r}, "
            f"discretize={disc!r}, tol={self.tol}, iter_factor={self.iter_factor})"
        )


def _per_group(value: str | Sequence[str], allowed: tuple[str, ...], groups: int,
               name: str) -> tuple[str, ...]:  # fmt: skip
    values = (value,) * groups if isinstance(value, str) else tuple(value)
    if len(values) != groups or any(v not in allowed for v in values):
        raise ValueError(f"{name} must be one of {allowed} or one of them per state group "
                         f"({groups}), got {value!r}")  # fmt: skip
    return values
