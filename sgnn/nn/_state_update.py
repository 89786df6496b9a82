"""How :class:`~sgnn.nn.Recurrent` turns a block's output into the next state.

The discretisations :math:`D` (each a discrete value forward with a straight-through
gradient backward, so that a discrete recurrence trains by backpropagation) and the
combination rules :math:`U` of the old state with the new value.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

#: The discretisations :math:`D`, see :class:`~sgnn.nn.Recurrent`.
DISCRETIZATIONS = ("none", "step", "argmax", "round")
#: The combination rules :math:`U`, see :class:`~sgnn.nn.Recurrent`.
UPDATES = ("replace", "max", "add")


class StraightThroughStep(torch.autograd.Function):
    """Heaviside step forward; the logistic sigmoid's derivative backward."""

    @staticmethod
    def forward(ctx: Any, u: Tensor) -> Tensor:
        ctx.save_for_backward(u)
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (u,) = ctx.saved_tensors
        s = torch.sigmoid(u)
        return grad * s * (1 - s)


def discretize(u: Tensor, kind: str) -> Tensor:
    """:math:`D(u)` of one of :data:`DISCRETIZATIONS`."""
    if kind == "none":
        return u
    if kind == "step":
        return StraightThroughStep.apply(u)
    if kind == "round":  # straight-through: the identity's gradient
        return u + (torch.round(u) - u).detach()
    soft = torch.softmax(u, dim=1)  # "argmax": one-hot forward, softmax's gradient backward
    hard = torch.zeros_like(u).scatter_(1, u.argmax(dim=1, keepdim=True), 1.0)
    return soft + (hard - soft).detach() if u.requires_grad else hard


def combine(state: Tensor, new: Tensor, kind: str) -> Tensor:
    """:math:`U(s, d)` of one of :data:`UPDATES`."""
    if kind == "replace":
        return new
    if kind == "max":
        return torch.maximum(state, new)
    return state + new
