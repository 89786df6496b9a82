"""One way to reset a model: each child resets itself, so layers keep their own inits."""

from __future__ import annotations

from torch.nn import Module
from torch_geometric.nn.inits import reset


def reset_children(module: Module) -> None:
    """Call ``reset_parameters`` of every child of ``module`` that has one, and recurse
    into those that have none (``Sequential``, ``ModuleList``). Never reaches past a
    child's own ``reset_parameters``: a layer's special init (EGNNConv's small
    coordinate weights, a quiet output layer) is not undone by a generic one."""
    for child in module.children():
        reset(child)
