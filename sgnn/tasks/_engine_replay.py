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

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..sandpile import AvalancheActivity


def heights_and_sites(data: Any) -> tuple[list[np.ndarray], list[int]]:
    """Stable heights (H, W) and drop site (flat index) of every graph of a footprint batch."""
    x = data.x.detach().cpu()
    shapes = torch.as_tensor(data.lattice_shape).view(-1, 2).tolist()
    heights, sites, start = [], [], 0
    for h, w in shapes:
        part = x[start : start + h * w]
        heights.append(part[:, :4].argmax(1).reshape(h, w).numpy())
        sites.append(int(part[:, 5].argmax()))
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


class Copies(NamedTuple):
    x: Tensor
    edge_index: Tensor


def repeat_graphs(batch: Any, k: int, sizes: list[int]) -> Copies:
    """Every graph of ``batch`` repeated ``k`` times in a row, as one disjoint graph."""
    if k == 1:
        return Copies(batch.x, batch.edge_index)
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    node_parts, edge_parts, offset = [], [], 0
    src = batch.edge_index[0]
    edge_graph = torch.bucketize(src, torch.as_tensor(ptr[1:], device=src.device), right=True)
    for g, size in enumerate(sizes):
        x = batch.x[ptr[g] : ptr[g + 1]]
        edges = batch.edge_index[:, edge_graph == g] - int(ptr[g])
        for _ in range(k):
            node_parts.append(x)
            edge_parts.append(edges + offset)
            offset += size
    return Copies(torch.cat(node_parts), torch.cat(edge_parts, dim=1))
