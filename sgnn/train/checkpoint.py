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

    Raises:
        ValueError: If the file is no sgnn checkpoint, or its weights do not fit
            ``model``: the message says what the checkpoint's config describes and
            summarises the mismatch (counts, and the first few keys and shapes).
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
        _load_weights(unwrap_model(model), payload, path)
    return payload


#: Keys of each kind named in a mismatch message; the rest are counted.
_SHOWN = 3


def _load_weights(model: torch.nn.Module, payload: dict[str, Any], path: str | Path) -> None:
    """``model.load_state_dict`` (strict), or a ``ValueError`` that says what the checkpoint
    holds and summarises the mismatch instead of listing every parameter."""
    saved, own = payload["state_dict"], model.state_dict()
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    reshaped = [f"{k} {tuple(saved[k].shape)} in the checkpoint, {tuple(v.shape)} in the model"
                for k, v in own.items()
                if k in saved and isinstance(v, torch.Tensor) and isinstance(saved[k], torch.Tensor)
                and not isinstance(v, torch.nn.parameter.UninitializedTensorMixin)
                and saved[k].shape != v.shape]  # fmt: skip
    problems = [f"{len(keys)} {what} ({'; '.join(keys[:_SHOWN])}"
                f"{'; ...' if len(keys) > _SHOWN else ''})"
                for what, keys in (("tensors of another shape", reshaped),
                                   ("keys missing from the checkpoint", missing),
                                   ("keys the model does not have", unexpected))
                if keys]  # fmt: skip
    if not problems:
        try:
            model.load_state_dict(saved)
            return
        except RuntimeError as err:
            problems = [str(err).splitlines()[0]]
    raise ValueError(f"{path} does not fit this {type(model).__name__}: {', '.join(problems)}. "
                     f"{_describe(payload.get('config'))}")  # fmt: skip


def _describe(config: Any) -> str:
    """What the checkpoint's config says it is, and how to build a model that fits."""
    if not isinstance(config, dict) or not config:
        return ("The checkpoint has no config; build the model with the sizes it was trained "
                "with")  # fmt: skip
    text = json.dumps(config)
    text = text if len(text) <= 300 else text[:297] + "..."
    how = "build the model from that config, or pass the right sizes"
    if {"model", "target", "hidden_channels"} <= set(config):
        how = (f"build the model with sgnn.tasks.sandpile_model({config['model']!r}, "
               f"{config['target']!r}, {config['hidden_channels']!r}), or pass the right sizes")
    return (f"This checkpoint is a model of config {text}; {how} (if the config matches "
            "the model, the checkpoint's weights disagree with its own config)")
