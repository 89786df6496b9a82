"""Finite graphs with a sink, the substrate of every sandpile in :mod:`sgnn.sandpile`."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_lattice_shape
from .._memory import check_fits

__all__ = ["SandpileGraph"]

_MAX_NODES = np.iinfo(np.int32).max - 1
#: Bytes per site of building a lattice graph and sampling or driving on it, an upper
#: estimate used to refuse lattices that cannot fit before allocating them.
_BYTES_PER_SITE = 160
# Threshold of sink cells in the avalanche kernel, whose heights are int32: a
# stable pile never holds more than twice a threshold, and drive() empties the
# sink cells between chunks, long before they could count up to this.
_UNREACHABLE = np.iinfo(np.int32).max


class CellLayout(NamedTuple):
    """Arrays of the avalanche kernel (see ``_kernels.avalanche_kernel``)."""

    node_cell: np.ndarray  # cell of each non-sink node
    sink_cells: np.ndarray  # cells that absorb grains
    threshold: np.ndarray  # per cell, int32; unreachable on sink cells
    sink_degree: np.ndarray  # per cell: grains lost per toppling
    stencil: np.ndarray  # neighbour offsets on a padded lattice, else empty
    indptr: np.ndarray  # CSR over cells when stencil is empty, else empty
    indices: np.ndarray
    pos: np.ndarray  # per cell, (num_cells, D); D = 0 when unknown


class SandpileGraph:
    r"""A finite undirected multigraph with a sink, on which grains topple.

    The non-sink nodes are numbered :math:`0, \dots, n-1` and the sink is the
    extra node :math:`n`. Node :math:`i` has threshold :math:`d_i`, its degree
    (edges to the sink and dissipated grains included); it is stable while
    :math:`z_i < d_i` and topples by sending one grain along each of its edges.
    Grains that reach the sink are lost, so a configuration on a graph in which
    every node is connected to the sink always stabilises.

    The graph is stored as CSR adjacency of the non-sink nodes, in which the
    index :math:`n` stands for the sink and an edge of multiplicity :math:`m`
    appears :math:`m` times. Build one with :meth:`square_lattice`,
    :meth:`from_networkx` or :meth:`from_csr`.

    Args:
        indptr (numpy.ndarray): Row pointers, shape :math:`(n + 1,)`.
        indices (numpy.ndarray): Neighbours of the non-sink nodes, values in
            :math:`\{0, \dots, n\}`, where :math:`n` is the sink.
        pos (numpy.ndarray, optional): Node coordinates, shape :math:`(n, D)`,
            used for the radius of gyration of avalanches. (default:
            :obj:`None`)
        shape (tuple[int, int], optional): Lattice shape when the graph is a
            square lattice whose node :math:`i` is the site
            :math:`(i // W, i \bmod W)`. (default: :obj:`None`)
        labels (list, optional): The original name of every non-sink node.
            (default: :obj:`None`)

    Raises:
        ValueError: If the arrays are inconsistent, contain self-loops, are
            not symmetric, or some node is not connected to the sink (such a
            pile could never stabilise).
    """

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        pos: np.ndarray | None = None,
        shape: tuple[int, int] | None = None,
        labels: list[Hashable] | None = None,
        *,
        _trusted: bool = False,
        _lattice: bool = False,
    ) -> None:
        indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        indices = np.ascontiguousarray(indices, dtype=np.int32)
        n = indptr.shape[0] - 1
        self.indptr = indptr
        self.indices = indices
        self.num_nodes = n
        self.threshold = np.diff(indptr)
        self.pos = None if pos is None else np.ascontiguousarray(pos, dtype=np.float64)
        self.shape = None if shape is None else (int(shape[0]), int(shape[1]))
        self.labels = labels
        self._lattice = _lattice
        if not _trusted:
            self._validate()
        for arr in (self.indptr, self.indices, self.threshold):
            arr.setflags(write=False)
        if self.pos is not None:
            self.pos.setflags(write=False)

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        n, indptr, indices = self.num_nodes, self.indptr, self.indices
        if indptr.ndim != 1 or n < 1:
            raise ValueError("indptr must be a 1-D array of length num_nodes + 1 >= 2")
        if n > _MAX_NODES:
            raise ValueError(f"graph has {n} nodes; at most {_MAX_NODES} are supported")
        if indptr[0] != 0 or indptr[-1] != indices.shape[0] or np.any(np.diff(indptr) < 0):
            raise ValueError("indptr must start at 0, be non-decreasing and end at len(indices)")
        if indices.ndim != 1 or (indices.size and (indices.min() < 0 or indices.max() > n)):
            raise ValueError(f"indices must be a 1-D array with values in 0..{n} ({n} is the sink)")
        rows = np.repeat(np.arange(n, dtype=np.int64), self.threshold)
        if np.any(rows == indices):
            raise ValueError("the graph has self-loops; a sandpile graph must have none")
        inner = indices < n
        fwd = np.sort(rows[inner] * (n + 1) + indices[inner])
        bwd = np.sort(indices[inner].astype(np.int64) * (n + 1) + rows[inner])
        if not np.array_equal(fwd, bwd):
            raise ValueError("the adjacency is not symmetric; sandpile graphs are undirected")
        if self.pos is not None and (self.pos.ndim != 2 or self.pos.shape[0] != n):
            raise ValueError(f"pos must have shape (num_nodes, D) = ({n}, D), got {self.pos.shape}")
        if self.shape is not None and self.shape[0] * self.shape[1] != n:
            raise ValueError(f"shape {self.shape} does not match num_nodes={n}")
        if not _reaches_sink(indptr, indices, n):
            raise ValueError(
                "some node is not connected to the sink, so a pile there would never "
                "stabilise; give every connected component at least one sink or "
                "dissipative node"
            )

    # ------------------------------------------------------------ constructors
    @staticmethod
    def square_lattice(shape: tuple[int, int] | Iterable[int]) -> SandpileGraph:
        r"""The :math:`H \times W` square lattice with open boundaries.

        Every site has threshold 4; edges that would leave the lattice lead to
        the sink, so boundary sites lose grains. Site :math:`(i, j)` is node
        :math:`iW + j`, and its neighbours are listed in the order up, down,
        left, right.

        Args:
            shape (tuple[int, int]): :math:`(H, W)`, both at least 1.
        """
        return _square_lattice(_check_shape(shape))

    @classmethod
    def from_csr(
        cls,
        indptr: np.ndarray,
        indices: np.ndarray,
        sinks: Iterable[int] = (),
        dissipation: np.ndarray | None = None,
        pos: np.ndarray | None = None,
    ) -> SandpileGraph:
        r"""Build from the CSR adjacency of a whole graph, sinks included.

        Args:
            indptr (numpy.ndarray): Row pointers of the full graph, shape
                :math:`(N + 1,)`.
            indices (numpy.ndarray): Column indices in :math:`0..N-1`; the
                adjacency must be symmetric (each undirected edge listed from
                both ends).
            sinks (Iterable[int]): Nodes that absorb grains. They are removed and
                the remaining nodes keep their relative order. (default: ``()``)
            dissipation (numpy.ndarray, optional): Non-negative integers, shape
                :math:`(N,)`: grains that node :math:`i` loses on each toppling
                beyond those sent to its neighbours (its threshold grows by the
                same amount). (default: :obj:`None`)
            pos (numpy.ndarray, optional): Coordinates of all :math:`N` nodes.
                (default: :obj:`None`)
        """
        indptr = np.asarray(indptr)
        indices = np.asarray(indices)
        if indptr.ndim != 1 or indptr.size < 2 or not np.issubdtype(indptr.dtype, np.integer):
            raise TypeError("indptr must be a 1-D integer array of length N + 1 >= 2")
        if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
            raise TypeError("indices must be a 1-D integer array")
        total = indptr.size - 1
        if indptr[0] != 0 or indptr[-1] != indices.size or np.any(np.diff(indptr) < 0):
            raise ValueError("indptr must start at 0, be non-decreasing and end at len(indices)")
        if indices.size and (indices.min() < 0 or indices.max() >= total):
            raise ValueError(f"indices must lie in 0..{total - 1}")
        is_sink = np.zeros(total, dtype=bool)
        sink_list = np.asarray(list(sinks), dtype=np.int64)
        if sink_list.size and (sink_list.min() < 0 or sink_list.max() >= total):
            raise ValueError(f"sinks must be node indices in 0..{total - 1}")
        is_sink[sink_list] = True
        if dissipation is None:
            dissipation = np.zeros(total, dtype=np.int64)
        dissipation = np.asarray(dissipation)
        if dissipation.shape != (total,) or not np.issubdtype(dissipation.dtype, np.integer):
            raise TypeError(f"dissipation must be an integer array of shape ({total},)")
        if np.any(dissipation < 0):
            raise ValueError("dissipation must be non-negative")
        keep = np.flatnonzero(~is_sink)
        if keep.size == 0:
            raise ValueError("every node is a sink; at least one non-sink node is needed")
        n = keep.size
        new_id = np.full(total, n, dtype=np.int64)  # sinks map to the sink node n
        new_id[keep] = np.arange(n)
        deg = np.diff(indptr)
        rows = np.repeat(np.arange(total), deg)
        kept_edges = ~is_sink[rows]
        new_rows = new_id[rows[kept_edges]]
        new_cols = new_id[indices[kept_edges]]
        # Dissipated grains are edges to the sink.
        extra = dissipation[keep]
        new_rows = np.concatenate([new_rows, np.repeat(np.arange(n), extra)])
        new_cols = np.concatenate([new_cols, np.full(int(extra.sum()), n, dtype=np.int64)])
        order = np.lexsort((new_cols, new_rows))
        new_rows, new_cols = new_rows[order], new_cols[order]
        new_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(new_rows, minlength=n), out=new_indptr[1:])
        if pos is not None:
            pos = np.asarray(pos, dtype=np.float64)
            if pos.ndim != 2 or pos.shape[0] != total:
                raise ValueError(f"pos must have shape ({total}, D), got {pos.shape}")
            pos = pos[keep]
        return cls(new_indptr, new_cols, pos=pos)

    @classmethod
    def from_networkx(
        cls,
        graph: Any,
        sinks: Iterable[Hashable] = (),
        dissipation: Mapping[Hashable, int] | None = None,
        pos: Mapping[Hashable, Any] | str | None = None,
    ) -> SandpileGraph:
        r"""Build from an undirected :mod:`networkx` graph or multigraph.

        Args:
            graph (networkx.Graph): Undirected, without self-loops. Parallel
                edges of a :class:`~networkx.MultiGraph` count with multiplicity.
            sinks (Iterable): Nodes that absorb grains. (default: ``()``)
            dissipation (Mapping, optional): Extra grains lost per toppling, by
                node. (default: :obj:`None`)
            pos (Mapping or str, optional): Coordinates by node, or the name of
                a node attribute that holds them. (default: :obj:`None`)
        """
        import networkx as nx

        if not isinstance(graph, nx.Graph):
            raise TypeError(f"graph must be a networkx graph, got {type(graph).__name__}")
        if graph.is_directed():
            raise TypeError("graph must be undirected; sandpiles on digraphs are not supported")
        if nx.number_of_selfloops(graph) > 0:
            raise ValueError("graph has self-loops; a sandpile graph must have none")
        nodes = list(graph.nodes)
        index = {v: i for i, v in enumerate(nodes)}
        sink_ids = []
        for s in sinks:
            if s not in index:
                raise ValueError(f"sink {s!r} is not a node of the graph")
            sink_ids.append(index[s])
        rows, cols = [], []
        for u, v in graph.edges():  # a MultiGraph yields each parallel edge once
            rows += [index[u], index[v]]
            cols += [index[v], index[u]]
        rows_a = np.asarray(rows, dtype=np.int64)
        cols_a = np.asarray(cols, dtype=np.int64)
        order = np.lexsort((cols_a, rows_a))
        indptr = np.zeros(len(nodes) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows_a, minlength=len(nodes)), out=indptr[1:])
        diss = None
        if dissipation is not None:
            diss = np.zeros(len(nodes), dtype=np.int64)
            for v, d in dissipation.items():
                if v not in index:
                    raise ValueError(f"dissipation names {v!r}, which is not a node")
                diss[index[v]] = d
        pos_arr = None
        if pos is not None:
            src = nx.get_node_attributes(graph, pos) if isinstance(pos, str) else pos
            missing = [v for v in nodes if v not in src]
            if missing:
                raise ValueError(f"pos has no coordinates for node {missing[0]!r}")
            pos_arr = np.asarray([np.atleast_1d(src[v]) for v in nodes], dtype=np.float64)
        out = cls.from_csr(indptr, cols_a[order], sinks=sink_ids, dissipation=diss, pos=pos_arr)
        is_sink = set(sink_ids)
        out.labels = [v for i, v in enumerate(nodes) if i not in is_sink]
        return out

    # ------------------------------------------------------------------ helpers
    @property
    def sink(self) -> int:
        """Index of the sink node, equal to :attr:`num_nodes`."""
        return self.num_nodes

    @property
    def sink_edges(self) -> np.ndarray:
        """Number of edges from each node to the sink, shape :math:`(n,)`."""
        return np.bincount(
            np.repeat(np.arange(self.num_nodes), self.threshold)[self.indices == self.num_nodes],
            minlength=self.num_nodes,
        )

    def to_scipy(self) -> Any:
        r"""The reduced graph Laplacian :math:`\Delta` (sink removed) as a
        :class:`scipy.sparse.csr_array`: :math:`\Delta_{ii} = d_i` and
        :math:`\Delta_{ij} = -(\text{number of edges } ij)`."""
        import scipy.sparse as sp

        n = self.num_nodes
        rows = np.repeat(np.arange(n), self.threshold)
        inner = self.indices < n
        adj = sp.coo_array(
            (np.ones(int(inner.sum())), (rows[inner], self.indices[inner])), shape=(n, n)
        ).tocsr()
        return (sp.diags_array(self.threshold.astype(np.float64)) - adj).tocsr()

    @cached_property
    def _cells(self) -> CellLayout:
        """The kernel layout: a lattice padded by sink cells, or CSR plus one sink cell."""
        empty = np.empty(0, dtype=np.int64)
        if self._lattice:
            assert self.shape is not None
            h, w = self.shape
            w2 = w + 2
            rows, cols = np.divmod(np.arange(self.num_nodes, dtype=np.int64), w)
            node_cell = (rows + 1) * w2 + cols + 1
            m = (h + 2) * w2
            threshold = np.full(m, _UNREACHABLE, dtype=np.int32)
            threshold[node_cell] = 4
            sink_cells = np.flatnonzero(threshold == _UNREACHABLE)
            sink_degree = np.zeros(m, dtype=np.int64)
            sink_degree[node_cell] = self.sink_edges
            pos = np.zeros((m, 2), dtype=np.float64)
            pos[node_cell] = self.pos
            stencil = np.array([-w2, w2, -1, 1], dtype=np.int64)
            return CellLayout(
                node_cell, sink_cells, threshold, sink_degree, stencil, empty, empty, pos
            )
        n = self.num_nodes
        threshold = np.append(self.threshold, _UNREACHABLE).astype(np.int32)
        sink_degree = np.append(self.sink_edges, 0)
        dim = 0 if self.pos is None else self.pos.shape[1]
        pos = np.zeros((n + 1, dim), dtype=np.float64)
        if self.pos is not None:
            pos[:n] = self.pos
        return CellLayout(
            np.arange(n, dtype=np.int64), np.array([n], dtype=np.int64), threshold, sink_degree,
            empty, self.indptr, self.indices, pos,
        )  # fmt: skip

    def __repr__(self) -> str:
        if self.shape is not None:
            return f"{type(self).__name__}(square_lattice={self.shape})"
        return f"{type(self).__name__}(num_nodes={self.num_nodes}, num_edges={self.indices.size})"


def _check_shape(shape: Any, fits: bool = True) -> tuple[int, int]:
    """``(H, W)`` as ints; with ``fits``, refuse lattices whose graph cannot fit in memory."""
    dims = check_lattice_shape(shape)
    if dims[0] * dims[1] > _MAX_NODES:
        raise ValueError(f"shape {dims} has more than {_MAX_NODES} sites")
    if fits:
        check_fits(_BYTES_PER_SITE * int(dims[0]) * int(dims[1]), "shape",
                   f"a {dims[0]}x{dims[1]} lattice")  # fmt: skip
    return dims


@lru_cache(maxsize=16)
def _square_lattice(shape: tuple[int, int]) -> SandpileGraph:
    h, w = shape
    n = h * w
    i, j = np.divmod(np.arange(n, dtype=np.int64), w)
    sink = np.int64(n)
    nbr = np.empty((n, 4), dtype=np.int32)
    nbr[:, 0] = np.where(i > 0, np.arange(n) - w, sink)
    nbr[:, 1] = np.where(i < h - 1, np.arange(n) + w, sink)
    nbr[:, 2] = np.where(j > 0, np.arange(n) - 1, sink)
    nbr[:, 3] = np.where(j < w - 1, np.arange(n) + 1, sink)
    pos = np.stack([i, j], axis=1).astype(np.float64)
    indptr = np.arange(0, 4 * n + 1, 4, dtype=np.int64)
    return SandpileGraph(
        indptr, nbr.reshape(-1), pos=pos, shape=shape, _trusted=True, _lattice=True
    )


def _reaches_sink(indptr: np.ndarray, indices: np.ndarray, n: int) -> bool:
    """Whether every node has a path to the sink (breadth-first search from it)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import breadth_first_order

    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    graph = sp.coo_array(
        (np.ones(indices.size, dtype=np.int8), (rows, indices.astype(np.int64))),
        shape=(n + 1, n + 1),
    ).tocsr()
    order = breadth_first_order(graph, n, directed=False, return_predecessors=False)
    return order.size == n + 1
