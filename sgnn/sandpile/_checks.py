"""Input validation shared by the public functions of :mod:`sgnn.sandpile`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .graph import SandpileGraph, _check_shape


def as_graph(shape_or_graph: Any, name: str = "shape") -> SandpileGraph:
    """A :class:`SandpileGraph` from itself or from a lattice shape ``(H, W)``."""
    if isinstance(shape_or_graph, SandpileGraph):
        return shape_or_graph
    return SandpileGraph.square_lattice(lattice_shape(shape_or_graph, name))


def lattice_shape(shape: Any, name: str = "shape", fits: bool = True) -> tuple[int, int]:
    """A validated lattice shape ``(H, W)``, without building the lattice; with ``fits``,
    refuse lattices whose graph cannot fit in memory."""
    if not isinstance(shape, (tuple, list, np.ndarray)):
        # An iterable that is not a sequence (a networkx graph, a set) is not a shape.
        raise TypeError(f"{name} must be a lattice shape (H, W) of positive ints or a "
                        f"SandpileGraph, got {type(shape).__name__}; build a graph "
                        "with SandpileGraph.from_networkx")  # fmt: skip
    try:
        return _check_shape(shape, fits)
    except (TypeError, ValueError) as err:
        raise type(err)(
            f"{name} must be a lattice shape (H, W) of positive ints or a SandpileGraph: {err}"
        ) from None


def check_heights(
    z: Any, graph: SandpileGraph | None, name: str = "z", *, writeable: bool = False
) -> tuple[np.ndarray, SandpileGraph]:
    """Validate a configuration and the graph it lives on.

    Without ``graph``, ``z`` must be a 2-D array on the square lattice of its
    shape; with one, ``z`` has one entry per non-sink node (a 2-D array of the
    lattice's shape is accepted for a lattice graph). Heights must be
    non-negative integers.
    """
    if writeable:
        if not isinstance(z, np.ndarray):
            raise TypeError(
                f"{name} must be a numpy integer array (it is updated in place), "
                f"got {type(z).__name__}"
            )
        if not z.flags.writeable:
            raise ValueError(f"{name} must be writeable (it is updated in place)")
    arr = np.asarray(z)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer heights, got dtype {arr.dtype}")
    if graph is None:
        if arr.ndim != 2:
            raise ValueError(
                f"{name} must be a 2-D array of heights (H, W), got shape {arr.shape}; "
                "pass graph= for other graphs"
            )
        if arr.size == 0:
            raise ValueError(f"{name} must have at least one site, got shape {arr.shape}")
        graph = SandpileGraph.square_lattice(arr.shape)
    elif not isinstance(graph, SandpileGraph):
        raise TypeError(f"graph must be a SandpileGraph or None, got {type(graph).__name__}")
    else:
        if arr.shape != (graph.num_nodes,) and (graph.shape is None or arr.shape != graph.shape):
            expected = f"({graph.num_nodes},)"
            if graph.shape is not None:
                expected += f" or {graph.shape}"
            raise ValueError(f"{name} must have shape {expected} to match graph, got {arr.shape}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be non-negative, got a minimum height of {arr.min()}")
    return arr, graph


def check_stable(arr: np.ndarray, graph: SandpileGraph, name: str = "z") -> None:
    """Raise unless every height is below its node's threshold."""
    bad = np.flatnonzero(arr.reshape(-1) >= graph.threshold)
    if bad.size:
        node = int(bad[0])
        raise ValueError(
            f"{name} must be stable (every height below its node's threshold); node {node} "
            f"has height {int(arr.reshape(-1)[node])} >= {int(graph.threshold[node])}; call "
            "relax first"
        )


def check_site(site: Any, arr: np.ndarray, graph: SandpileGraph, name: str = "site") -> int:
    """The flat node index of ``site``: ``(i, j)`` on a 2-D lattice array, else an int."""
    if arr.ndim == 2:
        try:
            i, j = site
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a pair (i, j) of ints, got {site!r}") from None
        for v in (i, j):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name} must be a pair (i, j) of ints, got {site!r}")
        h, w = arr.shape
        if not (0 <= i < h and 0 <= j < w):
            raise ValueError(f"{name} {site!r} is outside the lattice of shape {arr.shape}")
        return int(i) * w + int(j)
    if isinstance(site, bool) or not isinstance(site, (int, np.integer)):
        raise TypeError(f"{name} must be an int node index, got {site!r}")
    if not 0 <= site < graph.num_nodes:
        raise ValueError(f"{name} must lie in 0..{graph.num_nodes - 1}, got {site}")
    return int(site)


def extended(arr: np.ndarray) -> np.ndarray:
    """Heights as a flat int64 copy with one extra slot for the sink."""
    ext = np.zeros(arr.size + 1, dtype=np.int64)
    ext[:-1] = arr.reshape(-1)
    return ext
