"""The coarse-graining (renormalisation) hierarchy of a lattice, and pooling along it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch_geometric.data import Data

from .._checks import check_positive_int
from .lattice import _BOUNDARIES, check_lattice_shape, lattice_graph

__all__ = [
    "HierarchicalData",
    "Hierarchy",
    "Level",
    "coarse_grain_hierarchy",
]


class Level(NamedTuple):
    """One level of a :class:`HierarchicalData`: its ``edge_index``, ``pos`` and
    ``cluster``, the block of every node at the next level (:obj:`None` at the top)."""

    edge_index: Tensor
    pos: Tensor
    cluster: Tensor | None

@dataclass
class Hierarchy:
    r"""A coarse-graining hierarchy: graphs at levels :math:`0..K` and the maps between them.

    Level 0 is the finest graph. ``cluster[k]`` maps every node of level
    :math:`k` to its block at level :math:`k + 1`, so there is one cluster
    index fewer than levels.

    Attributes:
        edge_index (list[torch.Tensor]): Per level, shape :math:`(2, E_k)`.
        pos (list[torch.Tensor]): Per level, node positions :math:`(N_k, D)`
            in the units of level 0 (block centres for lattices, centres of
            mass for particles).
        cluster (list[torch.Tensor]): Per level but the last, shape
            :math:`(N_k,)`, values in :math:`0..N_{k+1}-1`.
        shapes (list[tuple[int, int]], optional): Lattice shape of each level.
        factor (int): Block side :math:`b` (lattices) or growth of the cell
            edge per level (particles).
        counts (list[torch.Tensor], optional): Number of level-0 nodes in each
            node of each level.
    """

    edge_index: list[Tensor]
    pos: list[Tensor]
    cluster: list[Tensor]
    factor: int
    shapes: list[tuple[int, int]] | None = None
    counts: list[Tensor] | None = field(default=None)

    @property
    def num_levels(self) -> int:
        """Number of levels :math:`K + 1`."""
        return len(self.pos)

    def num_nodes(self, level: int) -> int:
        """Number of nodes at ``level``."""
        return int(self.pos[level].shape[0])

    def attach(self, data: Data) -> HierarchicalData:
        """A copy of ``data`` as :class:`HierarchicalData` carrying this hierarchy.

        Level 0 must be ``data``'s own graph: same number of nodes.
        """
        if data.num_nodes != self.num_nodes(0):
            raise ValueError(
                f"data has {data.num_nodes} nodes but level 0 of the hierarchy has "
                f"{self.num_nodes(0)}"
            )
        out = HierarchicalData(**{k: v for k, v in data.items()})
        out.num_levels = self.num_levels
        for k in range(self.num_levels):
            if k > 0:
                out[f"edge_index_{k}"] = self.edge_index[k]
                out[f"pos_{k}"] = self.pos[k]
                out[f"batch_{k}"] = torch.zeros(self.num_nodes(k), dtype=torch.long)
            if k < self.num_levels - 1:
                out[f"cluster_{k}"] = self.cluster[k]
        return out


class HierarchicalData(Data):
    r"""A :class:`~torch_geometric.data.Data` that carries a coarse-graining hierarchy.

    Level 0 is the graph itself (``x``, ``edge_index``, ``pos``). For level
    :math:`k \ge 1` it holds ``edge_index_k``, ``pos_k`` and ``batch_k``, and
    for every level but the last ``cluster_k`` (level :math:`k` to
    :math:`k+1`). Batching offsets each of them by the node count of its own
    level (``batch_k`` by one per graph, so that it numbers the graphs), which
    keeps the blocks of different graphs apart. Graphs in one batch must have
    the same ``num_levels``: pad shallower hierarchies with ``num_levels=`` in
    :func:`coarse_grain_hierarchy` or :class:`~sgnn.data.AddHierarchy`.
    """

    _LEVEL_KEY = re.compile(r"^(edge_index|pos|cluster|batch)_(\d+)$")

    def level_size(self, level: int) -> int:
        """Number of nodes at ``level`` (summed over a batch)."""
        return int(self.num_nodes if level == 0 else self[f"pos_{level}"].size(0))

    def level(self, level: int) -> Level:
        """The :class:`Level` ``(edge_index, pos, cluster)`` of ``level``; ``cluster`` is
        :obj:`None` at the top."""
        if level == 0:
            edge_index, pos = self.edge_index, self.pos
        else:
            edge_index, pos = self[f"edge_index_{level}"], self[f"pos_{level}"]
        return Level(edge_index, pos, self.get(f"cluster_{level}"))

    def level_batch(self, level: int) -> Tensor:
        """Graph index of every node of ``level`` (zeros for a single graph)."""
        if level > 0:
            return self[f"batch_{level}"]
        batch = self.get("batch")
        if batch is None:
            batch = torch.zeros(self.num_nodes, dtype=torch.long, device=self.x.device)
        return batch

    @classmethod
    def is_level_key(cls, key: str) -> bool:
        """Whether ``key`` holds a level of the hierarchy (``edge_index_k``, ``pos_k``,
        ``cluster_k`` or ``batch_k``), which indexes that level's own nodes."""
        return cls._LEVEL_KEY.match(key) is not None

    def __inc__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        match = self._LEVEL_KEY.match(key)
        if match is None:
            return super().__inc__(key, value, *args, **kwargs)
        kind, level = match.group(1), int(match.group(2))
        if kind == "edge_index":
            return self.level_size(level)
        if kind == "cluster":
            return self.level_size(level + 1)
        if kind == "batch":
            return 1
        return 0

    def __cat_dim__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if key.startswith("edge_index_"):
            return 1
        return super().__cat_dim__(key, value, *args, **kwargs)


# Cached datasets load with torch.load(weights_only=True); allow this Data subclass.
torch.serialization.add_safe_globals([HierarchicalData])


def coarse_grain_hierarchy(
    shape: tuple[int, int],
    factor: int = 2,
    boundary: str = "open",
    num_levels: int | None = None,
) -> Hierarchy:
    r"""The block-spin hierarchy of an :math:`H \times W` lattice.

    Level :math:`k + 1` groups the sites of level :math:`k` into
    :math:`b \times b` blocks, :math:`(i, j) \mapsto (\lfloor i/b \rfloor,
    \lfloor j/b \rfloor)`, so level :math:`k` has shape
    :math:`(\lceil H / b^k \rceil, \lceil W / b^k \rceil)`; a side that is not
    a multiple of :math:`b` leaves partial blocks on its far edge. Levels run
    down to a single site, :math:`K = \lceil \log_b \max(H, W) \rceil`. Each
    level is a :func:`lattice_graph`, and a node's position is the centre of
    the fine sites its block covers (partial blocks included), in level-0 units.

    **Exactness.** The hierarchy of the :math:`bH \times bW` lattice without
    its level 0 *equals* the hierarchy of the :math:`H \times W` lattice, for
    every :math:`H, W \ge 1`: same shapes, ``edge_index`` and ``cluster``,
    with positions related by :math:`p \mapsto b\,p + (b - 1)/2`. (Level
    :math:`k+1` of the large lattice has shape :math:`\lceil bH / b^{k+1}
    \rceil = \lceil H / b^k \rceil`, and a partial block of :math:`r` rows
    becomes one of :math:`br` rows.) A lattice whose sides are not multiples
    of :math:`b` is the coarse level of no lattice.

    Args:
        shape (tuple[int, int]): :math:`(H, W)`.
        factor (int, optional): Block side :math:`b \ge 2`. (default: ``2``)
        boundary (str, optional): Boundary of every level's lattice,
            ``"open"`` or ``"periodic"``. (default: ``"open"``)
        num_levels (int, optional): Number of levels. Fewer than the natural
            :math:`K + 1` stops early; more repeats the single top site
            (``cluster`` maps it to itself), which lets lattices of different
            sizes batch together. (default: :obj:`None`, natural)
    """
    h, w = check_lattice_shape(shape)
    if isinstance(factor, bool) or not isinstance(factor, int):
        raise TypeError(f"factor must be an int >= 2, got {factor!r}")
    if factor < 2:
        raise ValueError(f"factor must be an int >= 2, got {factor}")
    if boundary not in _BOUNDARIES:
        raise ValueError(f"boundary must be one of {_BOUNDARIES}, got {boundary!r}")
    shapes = [(h, w)]
    while shapes[-1] != (1, 1):
        a, b = shapes[-1]
        shapes.append((-(-a // factor), -(-b // factor)))
    if num_levels is not None:
        check_positive_int(num_levels, "num_levels")
        shapes = shapes[:num_levels] + [(1, 1)] * (num_levels - len(shapes))
    edge_index, pos, cluster = [], [], []
    for k, (a, b) in enumerate(shapes):
        ei, grid = lattice_graph((a, b), boundary)
        edge_index.append(ei)
        pos.append(_block_centres(grid, factor**k, (h, w)))
        if k + 1 < len(shapes):
            wc = shapes[k + 1][1]
            if (a, b) == (1, 1):
                cluster.append(torch.zeros(1, dtype=torch.long))
            else:
                cluster.append((grid[:, 0] // factor) * wc + grid[:, 1] // factor)
    return Hierarchy(edge_index, pos, cluster, factor, shapes=shapes)


def _block_centres(grid: Tensor, size: int, fine: tuple[int, int]) -> Tensor:
    """Centre of the fine sites covered by the blocks at ``grid`` of side ``size``."""
    limit = torch.tensor(fine)
    start = grid * size
    stop = torch.minimum(start + size, limit)
    # A repeated top level (num_levels beyond the natural depth) covers the whole lattice.
    stop = torch.where(start >= limit, limit, stop)
    start = torch.where(start >= limit, torch.zeros_like(start), start)
    return (start + stop - 1).to(torch.get_default_dtype()) / 2
