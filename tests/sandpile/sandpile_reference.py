"""Brute-force references shared by the sandpile tests: slow, obviously correct."""

from __future__ import annotations

import networkx as nx
import numpy as np

from sgnn.sandpile import SandpileGraph


def dense_laplacian(graph: SandpileGraph) -> np.ndarray:
    """Reduced Laplacian built entry by entry from the CSR arrays."""
    n = graph.num_nodes
    lap = np.zeros((n, n))
    for i in range(n):
        lap[i, i] = graph.indptr[i + 1] - graph.indptr[i]
        for e in range(graph.indptr[i], graph.indptr[i + 1]):
            j = graph.indices[e]
            if j < n:
                lap[i, j] -= 1
    return lap


def lattice_laplacian(shape: tuple[int, int]) -> np.ndarray:
    """Reduced Laplacian of the open H×W square lattice from its geometry alone
    (4 on the diagonal, -1 between nearest neighbours), independent of SandpileGraph."""
    h, w = shape
    lap = 4.0 * np.eye(h * w)
    for i in range(h):
        for j in range(w):
            for a, b in ((i + 1, j), (i, j + 1)):
                if a < h and b < w:
                    lap[i * w + j, a * w + b] = lap[a * w + b, i * w + j] = -1.0
    return lap


def neighbours(graph: SandpileGraph, i: int) -> list[int]:
    """Neighbours of ``i`` with multiplicity; ``graph.num_nodes`` is the sink."""
    return [int(j) for j in graph.indices[graph.indptr[i] : graph.indptr[i + 1]]]


def brute_relax(z: np.ndarray, graph: SandpileGraph) -> tuple[np.ndarray, np.ndarray, int]:
    """Topple one grain-quadruple at a time, lowest unstable index first."""
    z = z.reshape(-1).astype(np.int64).copy()
    top = np.zeros_like(z)
    lost = 0
    thr = graph.threshold
    while True:
        unstable = np.flatnonzero(z >= thr)
        if unstable.size == 0:
            return z, top, lost
        i = unstable[0]
        z[i] -= thr[i]
        top[i] += 1
        for j in neighbours(graph, i):
            if j == graph.num_nodes:
                lost += 1
            else:
                z[j] += 1


def parallel_relax(z: np.ndarray, graph: SandpileGraph) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised reference for large piles: every unstable node topples its whole
    excess at once, all together, until stable (by the abelian property the result
    equals any other legal toppling order)."""
    n = graph.num_nodes
    z = z.reshape(-1).astype(np.int64).copy()
    top = np.zeros(n, dtype=np.int64)
    rows = np.repeat(np.arange(n), graph.threshold)
    inner = graph.indices < n
    while True:
        k = z // graph.threshold
        if not k.any():
            return z, top
        top += k
        z -= k * graph.threshold
        gained = np.bincount(graph.indices[inner], weights=k[rows[inner]], minlength=n)
        z += gained.astype(np.int64)  # float weights are exact far beyond these sizes


def brute_synchronous(z: np.ndarray, graph: SandpileGraph, site: int) -> dict:
    """Add a grain and run the synchronous dynamics, step by step."""
    z = z.reshape(-1).astype(np.int64).copy()
    z[site] += 1
    thr = graph.threshold
    top = np.zeros_like(z)
    duration = lost = 0
    while np.any(z >= thr):
        unstable = np.flatnonzero(z >= thr)
        duration += 1
        delta = np.zeros_like(z)
        for i in unstable:
            delta[i] -= thr[i]
            top[i] += 1
            for j in neighbours(graph, i):
                if j == graph.num_nodes:
                    lost += 1
                else:
                    delta[j] += 1
        z += delta
    toppled = np.flatnonzero(top)
    if toppled.size and graph.pos is not None:
        p = graph.pos[toppled]
        radius = float(np.sqrt(((p - p.mean(0)) ** 2).sum(1).mean()))
    else:
        radius = 0.0
    return {
        "z": z,
        "topplings": top,
        "size": int(top.sum()),
        "area": int(toppled.size),
        "duration": duration,
        "lost": lost,
        "radius": radius,
    }


def lattice_as_networkx_graph(shape: tuple[int, int]) -> SandpileGraph:
    """The open square lattice rebuilt independently: a grid plus a sink node,
    joined to each boundary site once per missing neighbour (a multigraph)."""
    h, w = shape
    g = nx.MultiGraph()
    g.add_nodes_from((i, j) for i in range(h) for j in range(w))
    g.add_edges_from(nx.grid_2d_graph(h, w).edges())
    for i in range(h):
        for j in range(w):
            around = ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1))
            missing = 4 - sum(0 <= a < h and 0 <= b < w for a, b in around)
            for _ in range(missing):
                g.add_edge((i, j), "sink")
    pos = {v: np.array(v, dtype=float) for v in g.nodes if v != "sink"}
    pos["sink"] = np.zeros(2)
    return SandpileGraph.from_networkx(g, sinks=["sink"], pos=pos)


def random_graph(
    seed: int, n: int = 12, *, dissipative: bool = False, dim: int = 2
) -> tuple[SandpileGraph, nx.Graph]:
    """A random connected graph with two sinks and ``dim``-D positions; with
    ``dissipative``, a few nodes also lose 1-3 grains per toppling."""
    rng = np.random.default_rng(seed)
    while True:
        g = nx.gnp_random_graph(n, 0.35, seed=int(rng.integers(1 << 30)))
        if nx.is_connected(g):
            break
    pos = {v: rng.normal(size=dim) for v in g.nodes}
    dissipation = None
    if dissipative:
        picks = rng.choice(np.arange(2, n), size=max(1, n // 4), replace=False)
        dissipation = {int(v): int(rng.integers(1, 4)) for v in picks}
    graph = SandpileGraph.from_networkx(g, sinks=[0, 1], dissipation=dissipation, pos=pos)
    return graph, g
