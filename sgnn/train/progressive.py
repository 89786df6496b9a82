"""The progressive loss of recurrent models that think for a variable number of steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._checks import check_positive_int

__all__ = ["progressive_loss"]


def _randint(low: int, high: int, generator: torch.Generator | None) -> int:
    """Uniform on ``low..high`` inclusive."""
    return int(torch.randint(low, high + 1, (1,), generator=generator))


def progressive_loss(
    model: torch.nn.Module,
    batch: Any,
    criterion: Callable[[Tensor, Any], Tensor],
    max_iters: int,
    max_grad_iters: int | None = None,
    alpha: float = 1.0,
    settle: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""The progressive loss of Bansal et al. (2022) for a recurrent model.

    A recurrent model should give the right answer from whatever state it has
    reached, after however many iterations. The loss draws
    :math:`k \sim U\{0, \dots, m - 1\}` and :math:`n \sim U\{1, \dots, m - k\}`
    (:math:`m` = ``max_iters``, :math:`n \le` ``max_grad_iters``), runs
    :math:`k` iterations without gradients, and then :math:`n` with them from
    the detached state, so that the model learns to make progress from any
    intermediate state rather than to rely on a fixed number of steps, and
    backpropagation through time stays short. With ``alpha < 1`` the loss of
    a plain run of :math:`m' \sim U\{1, \dots, m\}` iterations from the
    start is mixed in:

    .. math::
        \mathcal{L} = (1 - \alpha)\, \ell\big(f_{m'}(x)\big)
            + \alpha\, \ell\big(f_n(x;\, \text{sg}[s_k])\big).

    With ``settle=True`` the model is first run without gradients until it
    settles (its own iteration count :math:`T`, the largest of the batch),
    and :math:`k` is drawn from :math:`\max(0, T - n) \dots T + m`: the
    output is then always read at or after convergence, so a model whose
    answer needs :math:`T` sequential steps is never asked for it sooner
    (which would reward guessing) while still being trained to stay put when
    run longer.

    The model is called as ``model(batch, state=..., num_iters=...)`` and must
    return an object with ``node`` and ``state`` (such as
    :class:`~sgnn.nn.RecurrentOutput`); ``model(batch)`` must run it to
    convergence.

    Args:
        model (torch.nn.Module): The recurrent model.
        batch: Its input.
        criterion (Callable): ``criterion(output, batch)``, the loss of an output.
        max_iters (int): :math:`m`, at least 1.
        max_grad_iters (int, optional): Cap on :math:`n`, the iterations
            backpropagated through. (default: :obj:`None`, no cap)
        alpha (float, optional): Weight of the progressive term in
            :math:`[0, 1]`. (default: ``1.0``)
        settle (bool, optional): Read the output only at or after the model's
            own convergence. (default: :obj:`False`)
        generator (torch.Generator, optional): Source of the random counts.

    Returns:
        torch.Tensor: The scalar loss.
    """
    check_positive_int(max_iters, "max_iters")
    if max_grad_iters is not None and (isinstance(max_grad_iters, bool) or not isinstance(
            max_grad_iters, int) or max_grad_iters < 1):  # fmt: skip
        raise ValueError(f"max_grad_iters must be a positive int or None, got {max_grad_iters!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    cap = max_iters if max_grad_iters is None else min(max_iters, max_grad_iters)
    loss = torch.zeros(())
    if alpha > 0:
        if settle:
            with torch.no_grad():
                settled = int(model(batch).iterations.max())
            n = _randint(1, cap, generator)
            k = _randint(max(0, settled - n), settled + max_iters, generator)
        else:
            k = _randint(0, max_iters - 1, generator)
            n = _randint(1, min(cap, max_iters - k), generator)
        with torch.no_grad():
            state = model(batch, num_iters=k).state.detach()
        loss = alpha * criterion(model(batch, state=state, num_iters=n).node, batch)
    if alpha < 1:
        m = _randint(1, max_iters, generator)
        loss = loss + (1 - alpha) * criterion(model(batch, num_iters=m).node, batch)
    return loss
