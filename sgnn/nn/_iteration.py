"""Per-graph bookkeeping of :class:`~sgnn.nn.Recurrent`'s iteration: iteration counts,
convergence and stop flags, and the stop on non-finite states, all on the device."""

from __future__ import annotations

import torch
from torch import Tensor


def graph_max(values: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    out = values.new_zeros(num_graphs)
    return out.scatter_reduce(0, batch, values, "amax", include_self=True)


def stop_non_finite(u: Tensor, diff: Tensor, batch: Tensor, num_graphs: int,
                     running: Tensor, failed: Tensor, t: int,
                     stopped: Tensor) -> Tensor:  # fmt: skip
    """Stop the running graphs where the block's output ``u`` or the state's change
    ``diff`` (the largest of every node) is NaN or inf, on the nodes ``batch`` assigns (a
    discretisation would hide a NaN output: ``[NaN > 0]`` is 0), recording the iteration
    ``t`` in ``failed`` (in place); on the device, without a synchronisation."""
    node = ~(torch.isfinite(u.detach()).all(dim=1) & torch.isfinite(diff))
    bad = running & (graph_max(node.to(diff.dtype), batch, num_graphs) > 0)
    failed.masked_fill_(bad & (failed == 0), t)
    return stopped | bad


def raise_if_non_finite(failed: Tensor) -> None:
    """The ``ValueError`` of the first graph whose state became NaN or inf, if any."""
    if bool((failed > 0).any()):
        graph = int((failed > 0).nonzero()[0, 0])
        raise ValueError(f"Recurrent: the block's output or the state of graph {graph} became "
                         f"non-finite (NaN or inf) at iteration {int(failed[graph])}; check x, "
                         "the initial state and the block for NaN or inf")  # fmt: skip


def count_iteration(running: Tensor, change: Tensor, tol: float, iterations: Tensor,
                     converged: Tensor, stopped: Tensor,
                     limits: Tensor) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Count one iteration for the running graphs (``iterations`` in place); return the
    updated convergence and stop flags. ``tol < 0`` never stops a graph early."""
    iterations += running.long()
    settled = running & (change <= max(tol, 0.0))
    converged = torch.where(running, settled, converged)
    stopped = stopped | (settled if tol >= 0 else stopped) | (iterations >= limits)
    return converged, stopped
