r"""Parameter-free hazard maps, the baselines of every learned one.

Each returns :math:`\log(1 + \hat s)` per site, like a hazard model, so that
``evaluate(hazard_baseline(name), loader, sandpile_metrics("hazard"))`` scores it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from ..sandpile import wave_sizes
from .wave_hazard import _per_lattice

__all__ = ["HAZARD_BASELINES", "hazard_baseline"]

#: Names accepted by :func:`hazard_baseline`.
HAZARD_BASELINES = ("height-3", "first-wave", "two-waves")


def _log_sizes(batch: Any, fn: Callable[[np.ndarray], np.ndarray]) -> Tensor:
    r"""``fn(z)`` (estimated sizes, ``z``'s shape) of every lattice of ``batch``, as
    :math:`\log(1 + \hat s)`, shape :math:`(N, 1)`."""
    return torch.log1p(torch.from_numpy(_per_lattice(batch, fn).astype(np.float64))).to(batch.x)


def _component_size(mask: np.ndarray) -> np.ndarray:
    """The size of the connected component (nearest neighbours) of every True site."""
    labels, _ = ndimage.label(mask)
    sizes = np.bincount(labels.reshape(-1))
    sizes[0] = 0
    return sizes[labels]


def hazard_baseline(name: str) -> Callable[[Any], Tensor]:
    r"""A parameter-free hazard map ``predict(batch)``: :math:`\log(1 + \hat s)` per site.

    * ``"height-3"``: :math:`\hat s` is the size of the connected cluster of sites at
      height 3 that holds the site (0 below height 3);
    * ``"first-wave"``: the size of the first wave started at the site, exact
      (:func:`~sgnn.sandpile.wave_sizes`);
    * ``"two-waves"``: the sizes of the first two waves, added.

    The wave baselines are exact lower bounds of the avalanche size, at a cost of one
    closure per cluster of height-3 sites (see :func:`~sgnn.sandpile.wave_sizes`).

    Args:
        name (str): One of :data:`HAZARD_BASELINES`.
    """
    if name == "height-3":
        return lambda batch: _log_sizes(batch, lambda z: _component_size(z == 3))
    if name == "first-wave":
        return lambda batch: _log_sizes(batch, lambda z: wave_sizes(z)[0])
    if name == "two-waves":
        return lambda batch: _log_sizes(batch, lambda z: wave_sizes(z, num_waves=2).sum(0))
    raise ValueError(f"name must be one of {HAZARD_BASELINES}, got {name!r}")
