"""Data-parallel training with torch.distributed (gloo on CPU, nccl on GPU), via torchrun."""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist
from torch.nn import DataParallel
from torch.nn.parallel import DistributedDataParallel
from torch_geometric.data import Dataset
from torch_geometric.loader import DataLoader

__all__ = [
    "cleanup_distributed",
    "distributed_loader",
    "is_main_process",
    "setup_distributed",
    "unwrap_model",
]


def setup_distributed(backend: str | None = None, timeout_s: float = 300.0) -> tuple[int, int]:
    """Join the process group that ``torchrun`` describes; returns ``(rank, world_size)``.

    Without torchrun's environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``)
    it does nothing and returns ``(0, 1)``. The backend defaults to ``nccl``
    when CUDA is available and ``gloo`` otherwise. Collective operations that
    wait longer than ``timeout_s`` (a rank died) raise instead of hanging.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return 0, 1
    if not dist.is_initialized():
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return dist.get_rank(), dist.get_world_size()


def cleanup_distributed() -> None:
    """Leave the process group, if any.

    Delete ``DistributedDataParallel`` models (and optimizers referring to
    them) first: a DDP reducer destroyed after its process group can deadlock
    in gloo's destructor at exit.
    """
    if dist.is_initialized():
        dist.destroy_process_group()


def is_main_process() -> bool:
    """True on rank 0, or when not distributed."""
    return not dist.is_initialized() or dist.get_rank() == 0


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside :class:`~torch.nn.parallel.DistributedDataParallel` (or
    :class:`~torch.nn.DataParallel`), or ``model`` itself: the one whose ``state_dict``
    has the plain keys and whose own methods (such as a ``training_loss``) can be called."""
    return model.module if isinstance(model, (DistributedDataParallel, DataParallel)) else model


def distributed_loader(dataset: Dataset, batch_size: int, shuffle: bool = True,
                       seed: int = 0, **kwargs: object) -> DataLoader:  # fmt: skip
    """A PyG :class:`~torch_geometric.loader.DataLoader` that gives each rank its share.

    ``batch_size`` is per rank. With a process group a
    :class:`~torch.utils.data.distributed.DistributedSampler` splits the data
    (call ``loader.sampler.set_epoch(epoch)``; :func:`~sgnn.train.fit` does);
    without one it is an ordinary loader.
    """
    if dist.is_initialized():
        sampler = torch.utils.data.distributed.DistributedSampler(dataset, shuffle=shuffle,
                                                                  seed=seed)  # fmt: skip
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, **kwargs)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      **kwargs)  # fmt: skip
