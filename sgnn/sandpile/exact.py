"""Exact results for sandpiles: stationary sampling, recurrence and the identity."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import as_generator
from . import _kernels
from ._checks import as_graph, check_heights, extended
from .graph import SandpileGraph

__all__ = ["identity", "is_recurrent", "sample_recurrent"]


def _shaped(flat: np.ndarray, graph: SandpileGraph) -> np.ndarray:
    return flat.reshape(graph.shape) if graph.shape is not None else flat


def sample_recurrent(shape: Any, rng: Any = None) -> np.ndarray:
    r"""An exact sample of the stationary state of the slowly driven sandpile.

    For the abelian sandpile the stationary measure of the driven pile is the
    uniform measure on recurrent configurations, which are in bijection with
    the spanning trees of the graph with its sink (Majumdar–Dhar). This draws a
    uniform spanning tree rooted at the sink with Wilson's algorithm
    (loop-erased random walks) and maps it through the burning bijection: a
    node at depth :math:`t` of the tree burns at step :math:`t` of Dhar's
    burning algorithm, so with :math:`a_i = \#\{j \sim i,\ j \ne s : t_j \ge
    t_i\}` and :math:`r_i` the rank of the tree edge among the edges from
    :math:`i` to nodes at depth :math:`t_i - 1`,

    .. math::
        z_i = a_i + r_i.

    No driving and no burn-in are needed; the cost is that of Wilson's
    algorithm, linear in the mean hitting time of the sink.

    Args:
        shape (tuple[int, int] or SandpileGraph): A lattice shape
            :math:`(H, W)` (open boundaries) or a graph.
        rng (numpy.random.Generator or int, optional): Generator or seed; the
            generator's state advances. (default: :obj:`None`)

    Returns:
        numpy.ndarray: int64 heights, shape :math:`(H, W)` or :math:`(n,)`.
    """
    graph = as_graph(shape)
    gen = as_generator(rng)
    parent_edge = np.empty(graph.num_nodes, dtype=np.int64)
    _kernels.uniform_spanning_tree(graph.indptr, graph.indices, gen, parent_edge)
    depth = _kernels.tree_depths(graph.indptr, graph.indices, parent_edge)
    z = np.empty(graph.num_nodes, dtype=np.int64)
    _kernels.burning_bijection(graph.indptr, graph.indices, parent_edge, depth, z)
    return _shaped(z, graph)


def is_recurrent(z: Any, graph: SandpileGraph | None = None) -> bool:
    r"""Whether a configuration is recurrent, by Dhar's burning algorithm.

    A stable configuration :math:`z` is recurrent if and only if adding
    :math:`\beta` (each node receives one grain per edge to the sink) and
    relaxing makes every node topple exactly once, returning :math:`z`.
    Unstable configurations are not recurrent.

    Args:
        z (array_like): Non-negative integer heights, as in
            :func:`~sgnn.sandpile.relax`.
        graph (SandpileGraph, optional): As in :func:`~sgnn.sandpile.relax`.
    """
    arr, graph = check_heights(z, graph)
    flat = arr.reshape(-1)
    if np.any(flat >= graph.threshold):
        return False
    ext = extended(arr)
    ext[:-1] += graph.sink_edges
    topplings = np.zeros(graph.num_nodes, dtype=np.int64)
    _kernels.relax_kernel(ext, topplings, graph.indptr, graph.indices, graph.threshold)
    return bool(np.all(topplings == 1))


def identity(shape: Any) -> np.ndarray:
    r"""The identity element of the sandpile group.

    Recurrent configurations form an abelian group under
    :math:`(x, y) \mapsto (x + y)^{\circ}` (addition then relaxation). Its
    neutral element is

    .. math::
        e = \left(2 z_{\max} - (2 z_{\max})^{\circ}\right)^{\circ},

    with :math:`z_{\max} = d - 1` the maximal stable configuration.

    Args:
        shape (tuple[int, int] or SandpileGraph): A lattice shape or a graph.

    Returns:
        numpy.ndarray: int64 heights, shape :math:`(H, W)` or :math:`(n,)`.
    """
    graph = as_graph(shape)
    ext = np.zeros(graph.num_nodes + 1, dtype=np.int64)
    ext[:-1] = 2 * (graph.threshold - 1)
    scratch = np.zeros(graph.num_nodes, dtype=np.int64)
    _kernels.relax_kernel(ext, scratch, graph.indptr, graph.indices, graph.threshold)
    ext[:-1] = 2 * (graph.threshold - 1) - ext[:-1]
    ext[-1] = 0
    _kernels.relax_kernel(ext, scratch, graph.indptr, graph.indices, graph.threshold)
    return _shaped(ext[:-1].copy(), graph)
