"""Particle sets as PyG graphs, with neighbour search by :mod:`scipy.spatial` and periodic boxes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor
from torch_geometric.data import Data

from .._checks import check_positive_int
from .hierarchy import Hierarchy

__all__ = ["particle_hierarchy", "particles_to_data"]

_GRAPHS = ("radius", "knn", "complete")
#: Largest complete graph particles_to_data builds, in bytes.
_COMPLETE_GRAPH_BYTES = 1 << 33


def particles_to_data(
    pos: Any,
    x: Any = None,
    graph: str = "radius",
    r: float | None = None,
    k: int | None = None,
    box: Any = None,
    dtype: torch.dtype | None = None,
) -> Data:
    r"""A set of particles in :math:`\mathbb{R}^n` as a PyG graph with geometric edge features.

    Edges, in PyG's convention ``edge_index = [source, target]`` with messages
    flowing from source :math:`j` to target :math:`i`:

    * ``"radius"``: every ordered pair with :math:`\|x_i - x_j\| \le r`
      (particles exactly at distance :math:`r` *are* connected);
    * ``"knn"``: each particle :math:`i` receives edges from its :math:`k`
      nearest other particles (ties at equal distance broken arbitrarily);
    * ``"complete"``: all ordered pairs :math:`i \ne j`.

    There are no self-loops and ``edge_index`` is coalesced.
    ``edge_attr[e] = [x_i - x_j, \|x_i - x_j\|]`` for edge :math:`e = (j, i)`,
    shape :math:`(E, n + 1)`. With a periodic ``box`` the displacement is the
    minimum image, positions are wrapped into :math:`[0, L)` and every
    distance is the periodic one.

    Neighbour search uses :class:`scipy.spatial.cKDTree`, in
    :math:`O(N \log N)`; PyG's ``radius_graph`` and ``knn_graph`` need
    ``torch-cluster``, which is not installable everywhere.

    Args:
        pos (array_like): Positions, shape :math:`(N, n)`, finite, :math:`n \ge 1`.
        x (array_like, optional): Node features, shape :math:`(N, F)`.
            (default: :obj:`None`)
        graph (str, optional): ``"radius"``, ``"knn"`` or ``"complete"``.
            (default: ``"radius"``)
        r (float, optional): Cut-off radius for ``"radius"``, :math:`> 0`.
        k (int, optional): Neighbours per particle for ``"knn"``,
            :math:`1 \le k < N`.
        box (float or array_like, optional): Periodic box lengths, a scalar or
            one per dimension; each must exceed :math:`2r` for ``"radius"``, so
            that a pair has a single image within reach. (default: :obj:`None`,
            open space)
        dtype (torch.dtype, optional): Floating dtype of ``pos`` and
            ``edge_attr``; geometry is computed in float64 first. (default:
            :obj:`None`, torch's default dtype)

    Returns:
        torch_geometric.data.Data: ``pos`` (float, wrapped into the box),
        ``x`` if given, ``edge_index``, ``edge_attr``.
    """
    points = _check_positions(pos)
    n, dim = points.shape
    boxsize = _check_box(box, dim)
    if boxsize is not None:
        points = np.mod(points, boxsize)
        points[points >= boxsize] = 0.0  # np.mod can round up to the box length itself
    if graph not in _GRAPHS:
        raise ValueError(f"graph must be one of {_GRAPHS}, got {graph!r}")
    if graph == "radius":
        if r is None or not np.isfinite(r) or r <= 0:
            raise ValueError(f"r must be a positive finite radius for graph='radius', got {r!r}")
        if boxsize is not None and np.any(boxsize <= 2 * r):
            raise ValueError(f"box must exceed 2r = {2 * r} in every dimension, got {boxsize}")
        tree = cKDTree(points, boxsize=boxsize)
        pairs = tree.query_pairs(r, output_type="ndarray").astype(np.int64)
        edge_index = _both_directions(pairs)
    elif graph == "knn":
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an int for graph='knn', got {k!r}")
        if not 1 <= k < n:
            raise ValueError(f"k must satisfy 1 <= k < N = {n}, got {k}")
        tree = cKDTree(points, boxsize=boxsize)
        # k + 1 neighbours include the particle itself, dropped below (not
        # necessarily first when another particle sits at the same place).
        _, idx = tree.query(points, k=int(k) + 1)
        idx = idx.reshape(n, -1)
        own = idx == np.arange(n)[:, None]
        own[~own.any(axis=1), -1] = True  # if the particle is not listed, drop the farthest
        dst = np.repeat(np.arange(n), int(k))
        src = idx[~own].astype(np.int64)
        order = np.lexsort((dst, src))
        edge_index = torch.from_numpy(np.stack([src[order], dst[order]]))
    else:
        # Edge index, displacements and distances: about 8 * (2 + dim + 1) bytes per edge,
        # plus the n x n mask; refuse before allocating what cannot fit.
        need = n * (n - 1) * 8 * (3 + points.shape[1]) + n * n
        if need > _COMPLETE_GRAPH_BYTES:
            raise ValueError(f"graph='complete' on {n} particles needs about "
                             f"{need / 2**30:.1f} GiB for its {n * (n - 1)} edges (limit "
                             f"{_COMPLETE_GRAPH_BYTES / 2**30:.0f} GiB); use graph='radius' "
                             "or 'knn'")  # fmt: skip
        src, dst = np.nonzero(~np.eye(n, dtype=bool))  # already sorted by (src, dst)
        edge_index = torch.from_numpy(np.stack([src, dst]).astype(np.int64))
    dtype = dtype or torch.get_default_dtype()
    src_np, dst_np = edge_index.numpy()
    diff = points[dst_np] - points[src_np]
    if boxsize is not None:
        diff -= boxsize * np.round(diff / boxsize)
    dist = np.linalg.norm(diff, axis=1, keepdims=True)
    data = Data(
        pos=torch.from_numpy(points).to(dtype),
        edge_index=edge_index,
        edge_attr=torch.from_numpy(np.concatenate([diff, dist], axis=1)).to(dtype),
    )
    if x is not None:
        feats = torch.as_tensor(x)
        if feats.dim() < 1 or feats.shape[0] != n:
            raise ValueError(f"x must have shape (N, ...) with N = {n}, got {tuple(feats.shape)}")
        data.x = feats
    data.num_nodes = n
    return data


def particle_hierarchy(
    pos: Any,
    cell: float,
    levels: int,
    box: Any = None,
    factor: int = 2,
    dtype: torch.dtype | None = None,
) -> Hierarchy:
    r"""Renormalisation of a particle set by voxel cells whose edge grows per level.

    Level 0 is the particles. Level :math:`k \ge 1` is the non-empty cells of
    a grid of edge :math:`a_k = a\,b^{k-1}` (``cell`` :math:`a`, ``factor``
    :math:`b`), aligned with the origin; each node sits at the centre of mass
    of its particles. Cells nest exactly (integer cell coordinates are divided
    by :math:`b` from one level to the next), so ``cluster[k]`` maps each node
    of level :math:`k` to the cell of level :math:`k+1` that contains it. At
    each level :math:`k \ge 1` two cells are joined when their integer
    coordinates differ by at most 1 in every dimension (with a periodic box,
    across its faces too); level 0 has no edges (build them with
    :func:`particles_to_data`).

    With a box, positions are first wrapped into :math:`[0, L)`; a box that is
    not a multiple of :math:`a_k` leaves partial cells on its far faces,
    which still neighbour the cells across the face.

    Args:
        pos (array_like): Positions, shape :math:`(N, n)`.
        cell (float): Cell edge :math:`a > 0` of level 1.
        levels (int): Number of coarse levels :math:`K \ge 1`; the hierarchy
            has :math:`K + 1` levels.
        box (float or array_like, optional): Periodic box. (default: :obj:`None`)
        factor (int, optional): Growth :math:`b \ge 2` of the cell edge per
            level. (default: ``2``)
        dtype (torch.dtype, optional): Floating dtype of the positions.
            (default: :obj:`None`, torch's default dtype)

    Returns:
        Hierarchy: with ``counts`` (particles per node) and ``factor``.
    """
    points = _check_positions(pos)
    n, dim = points.shape
    boxsize = _check_box(box, dim)
    if not np.isfinite(cell) or cell <= 0:
        raise ValueError(f"cell must be a positive finite length, got {cell!r}")
    check_positive_int(levels, "levels")
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
        raise ValueError(f"factor must be an int >= 2, got {factor!r}")
    if boxsize is not None:
        points = np.mod(points, boxsize)
        points[points >= boxsize] = 0.0
    dtype = dtype or torch.get_default_dtype()
    pos_levels = [torch.from_numpy(points).to(dtype)]
    edge_index = [torch.empty(2, 0, dtype=torch.long)]
    counts = [torch.ones(n, dtype=torch.long)]
    clusters: list[Tensor] = []
    coords = np.floor(points / cell).astype(np.int64)  # level-1 cell of every particle
    member = np.arange(n)  # level-k node of every particle
    for level in range(1, int(levels) + 1):
        if level > 1:
            coords = np.floor_divide(coords, factor)
        cells, parent = np.unique(coords, axis=0, return_inverse=True)
        parent = parent.reshape(-1)
        clusters.append(torch.from_numpy(parent.astype(np.int64)))
        coords = cells
        member = parent[member]
        count = np.bincount(member, minlength=len(cells))
        centre = np.stack(
            [np.bincount(member, weights=points[:, d], minlength=len(cells)) for d in range(dim)],
            axis=1,
        ) / count[:, None]
        pos_levels.append(torch.from_numpy(centre).to(dtype))
        counts.append(torch.from_numpy(count.astype(np.int64)))
        edge_index.append(_cell_adjacency(cells, boxsize, cell * factor ** (level - 1)))
    return Hierarchy(edge_index, pos_levels, clusters, factor, counts=counts)


def _cell_adjacency(cells: np.ndarray, boxsize: np.ndarray | None, edge: float) -> Tensor:
    """Pairs of cells whose integer coordinates differ by at most one per dimension.

    With a box there are ``m = ceil(L / edge)`` cells along each side, with
    coordinates in ``0..m-1``, and the periodic Chebyshev distance of a k-d
    tree of period ``m`` is exactly the wrapped coordinate difference.
    """
    if len(cells) < 2:
        return torch.empty(2, 0, dtype=torch.long)
    periods = None if boxsize is None else np.ceil(boxsize / edge - 1e-9)
    tree = cKDTree(cells.astype(np.float64), boxsize=periods)
    pairs = tree.query_pairs(1.0, p=np.inf, output_type="ndarray").astype(np.int64)
    return _both_directions(pairs)


def _both_directions(pairs: np.ndarray) -> Tensor:
    """Coalesced ``edge_index`` with both directions of every unordered pair."""
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    order = np.lexsort((dst, src))
    return torch.from_numpy(np.stack([src[order], dst[order]]))


def _check_positions(pos: Any, name: str = "pos") -> np.ndarray:
    if isinstance(pos, Tensor):
        pos = pos.detach().cpu().numpy()
    arr = np.asarray(pos)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"{name} must be a real array of shape (N, n), got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, n) with N, n >= 1, got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def _check_box(box: Any, dim: int) -> np.ndarray | None:
    if box is None:
        return None
    if isinstance(box, Tensor):
        box = box.detach().cpu().numpy()
    arr = np.asarray(box, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(dim, float(arr))
    if arr.shape != (dim,):
        raise ValueError(f"box must be a scalar or have shape ({dim},), got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"box lengths must be positive and finite, got {arr}")
    return arr
