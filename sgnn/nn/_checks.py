"""Input checks shared by the layers: each error names the argument and the expected form."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .._device import values_are_checked

#: The aggregations of sgnn's layers and readouts (PyG's names; "add" is "sum").
AGGRS = ("sum", "mean", "max")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_channels(minimum: int = 1, **values: Any) -> None:
    """Raise unless every keyword value is an int ``>= minimum`` (bools are refused)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")


def check_node_features(x: Any, channels: int | None, name: str = "x",
                        num_nodes: int = -1) -> None:  # fmt: skip
    """Raise unless ``x`` is a floating tensor of shape ``(num_nodes, channels)``
    (``-1``/``None``: any)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    rows = "N" if num_nodes < 0 else str(num_nodes)
    cols = "F" if channels is None else str(channels)
    if x.dim() != 2 or (channels is not None and x.size(1) != channels) or (
            num_nodes >= 0 and x.size(0) != num_nodes):  # fmt: skip
        raise ValueError(f"{name} must have shape ({rows}, {cols}), got {tuple(x.shape)}")


def _autocasting(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4: no device argument
        return torch.is_autocast_enabled() or torch.is_autocast_cpu_enabled()


def check_dtype(expected: torch.dtype, **tensors: Tensor | None) -> None:
    """Raise ``TypeError`` naming the first keyword tensor whose dtype is not
    ``expected``, the dtype of the layer's parameters (:obj:`None` values are skipped).
    Under :func:`torch.autocast` nothing is checked: autocast mixes dtypes on purpose."""
    for name, tensor in tensors.items():
        if tensor is None or tensor.dtype == expected or _autocasting(tensor.device.type):
            continue
        raise TypeError(f"{name} must have the dtype of the layer's parameters, {expected}, got "
                        f"{tensor.dtype}; cast it with {name}.to({expected}), or the layer with "
                        f".to({tensor.dtype})")  # fmt: skip


def check_finite(tensor: Tensor, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` if ``tensor`` holds NaN or inf, where its
    values are checked (:func:`~sgnn._device.values_are_checked`: on the CPU, outside
    :func:`torch.compile`); elsewhere NaN propagates to the outputs."""
    if tensor.numel() and values_are_checked(tensor) and not bool(torch.isfinite(tensor).all()):
        row = int((~torch.isfinite(tensor)).reshape(tensor.size(0), -1).any(dim=1).nonzero()[0, 0])
        raise ValueError(f"{name} must be finite, got NaN or inf in row {row}")


def check_edge_index(edge_index: Any, num_nodes: int, name: str = "edge_index") -> None:
    """Raise unless ``edge_index`` is an integer ``(2, E)`` tensor with entries in
    ``0..num_nodes-1``, or a square sparse adjacency of ``num_nodes`` rows."""
    if not isinstance(edge_index, Tensor):
        if type(edge_index).__name__ == "SparseTensor":  # torch_sparse, when installed
            return
        raise TypeError(f"{name} must be a torch.Tensor, got {type(edge_index).__name__}")
    if edge_index.layout != torch.strided:
        if edge_index.dim() != 2 or edge_index.size(0) != num_nodes or edge_index.size(
                1) != num_nodes:  # fmt: skip
            raise ValueError(f"{name} as a sparse adjacency must have shape ({num_nodes}, "
                             f"{num_nodes}), got {tuple(edge_index.shape)}")  # fmt: skip
        return
    if edge_index.is_floating_point() or edge_index.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer node indices, got {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"{name} must have shape (2, E), got {tuple(edge_index.shape)}"
                         + ("; transpose it" if edge_index.dim() == 2
                            and edge_index.size(1) == 2 else ""))  # fmt: skip
    if edge_index.numel() and values_are_checked(edge_index):
        low, high = torch.aminmax(edge_index)
        if int(low) < 0 or int(high) >= num_nodes:
            raise ValueError(f"{name} must hold node indices in 0..{num_nodes - 1}, got "
                             f"{int(low)}..{int(high)}")  # fmt: skip


def check_batch(batch: Any, num_nodes: int, name: str = "batch") -> None:
    """Raise unless ``batch`` is :obj:`None` or an integer ``(num_nodes,)`` vector of
    non-negative graph indices."""
    if batch is None:
        return
    if not isinstance(batch, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {type(batch).__name__}")
    if batch.is_floating_point() or batch.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer graph indices, got {batch.dtype}")
    if batch.dim() != 1 or batch.numel() != num_nodes:
        raise ValueError(f"{name} must have shape ({num_nodes},), one graph index per node, "
                         f"got {tuple(batch.shape)}")  # fmt: skip
    if batch.numel() and values_are_checked(batch) and int(batch.min()) < 0:
        raise ValueError(f"{name} must hold non-negative graph indices, got {int(batch.min())}")


def batch_and_count(batch: Any, num_nodes: int, device: torch.device,
                    name: str = "batch") -> tuple[Tensor, int]:  # fmt: skip
    """``batch`` checked by :func:`check_batch`, sorted and non-negative, as a long tensor
    (all zeros, one graph, when :obj:`None`), with the number of graphs: for layers that
    loop over the graphs of a batch in order, which read the batch on the host anyway
    (so its values are checked on every device)."""
    check_batch(batch, num_nodes, name)
    if batch is None:
        return torch.zeros(num_nodes, dtype=torch.long, device=device), 1
    batch = batch.long()
    if not num_nodes:
        return batch, 1
    if bool((batch[1:] < batch[:-1]).any()):
        raise ValueError(f"{name} must be sorted (the graph index of every node, in order)")
    if int(batch[0]) < 0:
        raise ValueError(f"{name} must hold non-negative graph indices, got {int(batch[0])}")
    return batch, int(batch[-1]) + 1
