"""What the recurrent sandpile models share: their input check, the lattice diameter as
the scale of their iteration budget, the run of their :class:`~sgnn.nn.Recurrent` on a
footprint batch, and the heads that read footprint outputs from a state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import Linear, Module, Sequential, SiLU

from ..nn import Recurrent, RecurrentOutput
from .sandpile_rules import IN_CHANNELS

__all__ = ["lattice_diameter"]


def lattice_diameter(data: Any) -> Tensor:
    """Graph diameter :math:`H + W - 2` of every lattice of a batch (at least 1), float64."""
    if "lattice_shape" not in data:
        raise ValueError(
            "data needs lattice_shape (H, W); build it with sgnn.data.sandpile_to_data"
        )
    shape = torch.as_tensor(data.lattice_shape).view(-1, 2).double()
    return (shape.sum(1) - 2).clamp(min=1)


def check_input(data: Any) -> None:
    """Raise unless ``data.x`` holds the footprint inputs, :math:`(N, 6)`."""
    x = getattr(data, "x", None)
    if not isinstance(x, Tensor) or x.dim() != 2 or x.size(1) != IN_CHANNELS:
        raise ValueError(f"data.x must have shape (N, {IN_CHANNELS}) (one-hot height, missing "
                         f"neighbours, drop site), got {getattr(x, 'shape', None)}")  # fmt: skip


class Recurrence(Module):
    """Shared plumbing: run :attr:`recurrent` on a batch of lattices, with the lattice
    diameter as the iteration scale."""

    recurrent: Recurrent

    def run(self, graph: Any, state: Tensor | None, num_iters: int | None,
            sparse: bool | None, callback: Callable[[int, Tensor], None] | None,
            **kwargs: Any) -> RecurrentOutput:  # fmt: skip
        check_input(graph)
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


class CountHead(Module):
    """Footprint outputs from a toppling counter (state column ``column``): logit
    ``n - 1/2``, ``log(1 + n)``."""

    def __init__(self, column: int) -> None:
        super().__init__()
        self.column = column

    def forward(self, x: Tensor, state: Tensor) -> Tensor:
        n = state[:, self.column].clamp(min=0)
        return torch.stack([n - 0.5, torch.log1p(n)], dim=1)


def count_readout(in_channels: int, hidden_channels: int) -> Sequential:
    """``Linear -> SiLU -> Linear`` to one channel: the :math:`\\log(1 + \\text{topplings})`
    readout of the footprint-trained models."""
    return Sequential(Linear(in_channels, hidden_channels), SiLU(), Linear(hidden_channels, 1))
