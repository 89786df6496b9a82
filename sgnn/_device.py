"""One check for ``device`` arguments (a clear error instead of torch's assertion), and
when checks may read a tensor's values."""

from __future__ import annotations

from typing import Any

import torch


def check_device(device: Any, name: str = "device") -> torch.device | None:
    """``device`` as a :class:`torch.device` (``None`` stays ``None``).

    Raises:
        TypeError: If it is neither a string nor a device.
        ValueError: If the string names no device, or the device's backend is not
            available on this machine (CUDA or MPS).
    """
    if device is None:
        return None
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"{name} must be a str or torch.device such as 'cpu', got {device!r}")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"{name} must name a device such as 'cpu' or 'cuda:0', "
                         f"got {device!r}") from None  # fmt: skip
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name} is {str(device)!r} but CUDA is not available on this "
                         "machine; use 'cpu'")  # fmt: skip
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name} is {str(device)!r} but MPS is not available on this "
                         "machine; use 'cpu'")  # fmt: skip
    return dev


def values_are_checked(tensor: torch.Tensor) -> bool:
    """Whether the checks read the values of ``tensor`` (index ranges, signs), not only
    its shape and dtype: on the CPU, where reading them costs one pass over an index
    and no synchronisation, and not under :func:`torch.compile`, which cannot guard on
    data. On an accelerator, reading them would stall every call on a host sync; an
    index out of range is then caught by the indexing kernel instead, and graphs are
    best validated once, when they are built (PyG's ``Data.validate()``)."""
    return tensor.device.type == "cpu" and not torch.compiler.is_compiling()
