"""Replaying the sandpile engine's record of an avalanche on a footprint batch.

The one-step supervision of :class:`~sgnn.tasks.ToppleAutomaton` needs the state of
every avalanche of a batch at chosen steps of the synchronous dynamics: this module
decodes each lattice's stable heights and drop site from the batch, replays the
engine's record (:func:`~sgnn.sandpile.avalanche_activity`), weighs the steps by how
crowded they are, and lays copies of the graphs side by side. It is the one place in
:mod:`sgnn.tasks` that reads a :class:`~sgnn.sandpile.SandpileGraph`'s CSR arrays
(``indptr``, ``indices``, ``threshold``, documented attributes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import unbatch, unbatch_edge_index

from ..data import DROP_SITE_COLUMN, sandpile_heights
from ..sandpile import AvalancheActivity
from ..train.loop import num_graphs


def heights_and_sites(data: Any) -> tuple[list[np.ndarray], list[int]]:
    """Stable heights (H, W) and drop site (flat index) of every graph of a footprint batch."""
    x = data.x.detach().cpu()
    shapes = torch.as_tensor(data.lattice_shape).view(-1, 2).tolist()
    heights, sites, start = [], [], 0
    for h, w in shapes:
        part = x[start : start + h * w]
        heights.append(sandpile_heights(part).reshape(h, w).numpy())
        sites.append(int(part[:, DROP_SITE_COLUMN].argmax()))
        start += h * w
    return heights, sites


def crowding(activity: AvalancheActivity) -> np.ndarray:
    """``1 + sum_i r_i**2`` for every step of ``activity`` and the final, quiet one, with
    ``r_i`` the grains site ``i`` receives at the step."""
    graph = activity.graph
    n, steps = graph.num_nodes, activity.num_steps
    step_of = np.repeat(np.arange(steps), activity.step_sizes())
    degree = graph.threshold[activity.sites]
    # Every toppling sends a grain along each edge of its site; count them per (step, site).
    edge = np.repeat(graph.indptr[activity.sites], degree) + ranks(degree)
    target = graph.indices[edge]
    keep = target < n  # grains into the sink are not received by any site
    keys = np.repeat(step_of, degree)[keep] * n + target[keep]
    received = np.bincount(keys, minlength=steps * n).reshape(steps, n) if steps else np.zeros(
        (0, n))  # fmt: skip
    return np.append(1.0 + (received.astype(np.float64) ** 2).sum(1), 1.0)


def ranks(counts: np.ndarray) -> np.ndarray:
    """``0, 1, ..., c - 1`` for every ``c`` in ``counts``, concatenated."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def repeat_graphs(batch: Any, k: int) -> Batch:
    """Every graph of ``batch`` (``x`` and ``edge_index`` only) repeated ``k`` times in a
    row: copies ``g * k`` to ``g * k + k - 1`` are graph ``g``."""
    index = batch.get("batch")
    if index is None:
        index = torch.zeros(batch.num_nodes, dtype=torch.long, device=batch.x.device)
    size = num_graphs(batch)
    graphs = [Data(x=x, edge_index=edges) for x, edges in zip(
        unbatch(batch.x, index, batch_size=size),
        unbatch_edge_index(batch.edge_index, index, batch_size=size), strict=True)]  # fmt: skip
    return Batch.from_data_list([graph for graph in graphs for _ in range(k)])
