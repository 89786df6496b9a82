"""Checkpoints: a state dict and a plain config, written atomically, loaded with weights_only."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import torch

from .._device import check_device
from .._io import atomic_write
from .._io import check_writable as _check_writable
from .distributed import unwrap_model

__all__ = ["load_checkpoint", "save_checkpoint"]


def save_checkpoint(path: str | Path, model: torch.nn.Module, config: dict[str, Any] | None = None,
                    **extra: Any) -> None:  # fmt: skip
    """Write ``{"state_dict", "config", **extra}`` to ``path`` atomically.

    ``config`` and ``extra`` must be JSON-like (numbers, strings, lists, dicts),
    so that :func:`load_checkpoint` can read them with ``weights_only=True``.
    The file is written under a temporary name and renamed: an interrupted
    save never leaves a truncated checkpoint.
    """
    payload = {"config": config or {}, **extra}
    try:
        json.dumps(payload)
    except TypeError as err:
        raise TypeError(f"config and extra must be JSON-like: {err}") from None
    payload["state_dict"] = unwrap_model(model).state_dict()
    _check_writable(path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: str | Path, model: torch.nn.Module | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:  # fmt: skip
    """Read a checkpoint with ``torch.load(..., weights_only=True)``.

    Loads the weights into ``model`` if given (strictly) and returns the whole
    payload: ``state_dict``, ``config`` and any extras.
    """
    check_device(map_location, "map_location")
    if not Path(path).is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, ValueError) as err:
        # Not a torch file, a truncated one, or one holding objects beyond weights.
        raise ValueError(f"{path} is not an sgnn checkpoint: {err}") from None
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ValueError(f"{path} is not an sgnn checkpoint (no state_dict)")
    if model is not None:
        unwrap_model(model).load_state_dict(payload["state_dict"])
    return payload
