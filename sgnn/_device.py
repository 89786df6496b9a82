"""One check for ``device`` arguments (a clear error instead of torch's assertion), when
checks may read a tensor's values, and how many CPU threads torch gets."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

#: Most intra-op threads :func:`set_torch_threads` gives torch by default: sgnn's graphs are
#: small, and past a few threads torch's per-operation synchronisation costs more than it
#: saves, and much more when other jobs share the cores.
_MAX_TORCH_THREADS = 8
#: Environment variables by which a user sets the thread count; they take precedence.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


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


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity mask (``taskset``, a batch scheduler's
    allocation), reduced to its cgroup's CPU quota where one is set (a container's
    ``--cpus``, which torch's default thread count does not see). At least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks (macOS, Windows)
        count = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        count = min(count, math.ceil(quota))
    return max(1, count)


def _cgroup_cpu_quota() -> float | None:
    """CPUs' worth of time per period that this process's cgroup may use (cgroup v2's
    ``cpu.max``, or v1's CFS quota), :obj:`None` where no quota is set or readable."""
    root = Path("/sys/fs/cgroup")
    try:
        fields = (root / "cpu.max").read_text().split()
    except OSError:
        try:
            fields = [(root / "cpu" / name).read_text().strip()
                      for name in ("cpu.cfs_quota_us", "cpu.cfs_period_us")]  # fmt: skip
        except OSError:
            return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except (IndexError, ValueError):  # "max": no quota
        return None
    return quota / period if quota > 0 and period > 0 else None


def set_torch_threads(num_threads: int | None = None) -> int:
    """Set torch's intra-op threads; returns the number torch then uses.

    With ``num_threads``, that many. Without, the number ``OMP_NUM_THREADS`` or
    ``MKL_NUM_THREADS`` gives where either is set (torch read it at start-up: it is left
    alone), else :func:`available_cpus`, at most 8 (``_MAX_TORCH_THREADS``). torch's own
    default counts the machine's cores, quota or not: threads beyond the CPUs a process
    may use wait on each other at every parallel operation, and a run slows down 10-20x.
    On a machine that other jobs load, ``OMP_NUM_THREADS=1`` is faster still.
    Worker processes of sgnn's datasets never import torch and need no setting.
    """
    if num_threads is None:
        if any(os.environ.get(name) for name in _THREAD_VARIABLES):
            return torch.get_num_threads()
        num_threads = min(available_cpus(), _MAX_TORCH_THREADS)
    if isinstance(num_threads, bool) or not isinstance(num_threads, int):
        raise TypeError(f"num_threads must be an int, got {num_threads!r}")
    if num_threads < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    if torch.get_num_threads() != num_threads:
        torch.set_num_threads(num_threads)
    return torch.get_num_threads()
