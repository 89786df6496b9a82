"""Small building blocks shared by the models."""

from __future__ import annotations

from collections.abc import Callable

from torch.nn import Linear, Module, Sequential


def mlp(in_channels: int, hidden_channels: int, out_channels: int,
        act: Callable[[], Module]) -> Sequential:  # fmt: skip
    """``Linear -> act -> Linear``: the heads of the models."""
    return Sequential(
        Linear(in_channels, hidden_channels), act(), Linear(hidden_channels, out_channels)
    )
