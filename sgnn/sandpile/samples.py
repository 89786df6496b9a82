"""Single training samples of avalanches, generated from exact stationary configurations.

Pure numpy + numba, so that dataset workers never import torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._names import SAMPLE_TARGETS
from .engine import add_grain, avalanche_sizes
from .exact import sample_recurrent

__all__ = ["SAMPLE_TARGETS", "avalanche_sample"]

_MAX_TRIES = 1000


def avalanche_sample(
    shape: tuple[int, int], target: str, seed: np.random.SeedSequence | int
) -> dict[str, Any]:
    r"""One stationary configuration and the avalanche data a model should predict.

    The configuration is an exact sample of the stationary state
    (:func:`~sgnn.sandpile.sample_recurrent`). With ``target="footprint"`` a
    drop site is drawn uniformly among the sites of height 3 (elsewhere
    nothing topples) and the avalanche it triggers is recorded; with
    ``target="hazard"`` the avalanche size of a grain at every site is
    recorded (:func:`~sgnn.sandpile.avalanche_sizes`).

    Args:
        shape (tuple[int, int]): Lattice shape.
        target (str): ``"footprint"`` or ``"hazard"``.
        seed (numpy.random.SeedSequence or int): The sample's own seed.

    Returns:
        dict: ``z`` (heights) and, for ``"footprint"``: ``site`` (flat index),
        ``topplings`` (per site), ``size``, ``area``, ``duration``, ``radius``;
        for ``"hazard"``: ``sizes`` (per site).
    """
    if target not in SAMPLE_TARGETS:
        raise ValueError(f"target must be one of {SAMPLE_TARGETS}, got {target!r}")
    rng = np.random.default_rng(seed)
    if target == "hazard":
        z = sample_recurrent(shape, rng)
        # One thread and no bar: datasets generate many samples in worker processes.
        return {"z": z, "sizes": avalanche_sizes(z, progress=False, num_threads=1)[0]}
    for _ in range(_MAX_TRIES):  # a recurrent pile without a height-3 site is vanishingly rare
        z = sample_recurrent(shape, rng)
        candidates = np.flatnonzero(z.reshape(-1) == 3)
        if candidates.size:
            break
    else:
        raise RuntimeError(f"no site of height 3 in {_MAX_TRIES} samples of shape {shape}")
    site = int(candidates[rng.integers(candidates.size)])
    after = z.copy()
    avalanche = add_grain(after, divmod(site, shape[1]))
    return {
        "z": z,
        "site": site,
        "topplings": avalanche.topplings,
        "size": avalanche.size,
        "area": avalanche.area,
        "duration": avalanche.duration,
        "radius": avalanche.radius,
    }
