"""Transforms of lattice graphs: the coarse-graining hierarchy and the symmetries of the square."""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import coalesce

from ..pool import dilated_edge_key
from .hierarchy import HierarchicalData, coarse_grain_hierarchy
from .lattice import _BOUNDARIES, check_lattice_shape, data_lattice_shape, lattice_graph

__all__ = [
    "AddDilatedEdges",
    "AddHierarchy",
    "LatticeSymmetry",
    "RandomLatticeSymmetry",
    "lattice_symmetry",
]

def lattice_symmetry(shape: tuple[int, int], element: int) -> tuple[Tensor, tuple[int, int]]:
    r"""A symmetry of the square acting on the sites of an :math:`H \times W` lattice.

    The dihedral group :math:`D_4` has 8 elements; ``element`` :math:`= r + 4s`
    is :math:`r` counter-clockwise quarter turns (as :func:`numpy.rot90`)
    followed, if :math:`s = 1`, by a flip of the columns (as
    :func:`numpy.fliplr`). Odd :math:`r` swaps the sides.

    Args:
        shape (tuple[int, int]): :math:`(H, W)`.
        element (int): In :math:`0..7`.

    Returns:
        (torch.Tensor, tuple[int, int]): ``perm`` and the new shape, where
        ``perm[new_node] = old_node``: a node-level tensor ``x`` transforms
        as ``x[perm]``.
    """
    h, w = check_lattice_shape(shape)
    if isinstance(element, bool) or not isinstance(element, (int, np.integer)):
        raise TypeError(f"element must be an int in 0..7, got {element!r}")
    if not 0 <= element < 8:
        raise ValueError(f"element must be an int in 0..7, got {element}")
    idx = np.rot90(np.arange(h * w).reshape(h, w), int(element) % 4)
    if element >= 4:
        idx = np.fliplr(idx)
    return torch.from_numpy(np.ascontiguousarray(idx).reshape(-1)), (idx.shape[0], idx.shape[1])


class LatticeSymmetry(BaseTransform):
    r"""Applies one element of :math:`D_4` to a lattice graph.

    Moves every node-level attribute with its node (``x[perm]``), relabels
    ``edge_index`` and re-coalesces it, sets ``pos`` to the new lattice
    coordinates and updates ``lattice_shape``. Node features are treated as
    scalars under the symmetry (true of heights, boundary counts and drop
    sites); edge attributes move with their edges.

    Needs ``lattice_shape`` (as set by :func:`~sgnn.data.sandpile_to_data`).
    Apply it before :class:`AddHierarchy`: on ragged lattices the hierarchy
    of a rotated lattice is not the rotated hierarchy.

    Args:
        element (int): In :math:`0..7`, see :func:`lattice_symmetry`.
    """

    def __init__(self, element: int) -> None:
        lattice_symmetry((1, 1), element)  # validates
        self.element = int(element)

    def forward(self, data: Data) -> Data:
        return _apply_symmetry(data, self.element)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.element})"


class RandomLatticeSymmetry(BaseTransform):
    r"""Applies a uniformly random element of :math:`D_4` (see :class:`LatticeSymmetry`).

    Draws from Python's :mod:`random`, which :func:`torch_geometric.seed_everything`
    seeds, like PyG's own random transforms.
    """

    def forward(self, data: Data) -> Data:
        return _apply_symmetry(data, random.randrange(8))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _apply_symmetry(data: Data, element: int) -> Data:
    shape = data_lattice_shape(data)
    if isinstance(data, HierarchicalData) or "cluster_0" in data:
        raise ValueError("apply LatticeSymmetry before AddHierarchy, not after")
    n = shape[0] * shape[1]
    if data.num_nodes != n:
        raise ValueError(f"data has {data.num_nodes} nodes, lattice_shape {shape} has {n}")
    perm, new_shape = lattice_symmetry(shape, element)
    out = copy.copy(data)
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(n)
    for key, value in data.items():
        if key in ("edge_index", "edge_attr", "pos", "lattice_shape"):
            continue
        if isinstance(value, Tensor) and data.is_node_attr(key):
            out[key] = value[perm.to(value.device)]
    if "edge_index" in data:
        edge_index = inverse.to(data.edge_index.device)[data.edge_index]
        if "edge_attr" in data:
            out.edge_index, out.edge_attr = coalesce(edge_index, data.edge_attr, n)
        else:
            out.edge_index = coalesce(edge_index, num_nodes=n)
    if "pos" in data:
        rows = torch.arange(n, device=data.pos.device)
        new_pos = torch.stack([rows // new_shape[1], rows % new_shape[1]], dim=1)
        out.pos = new_pos.to(data.pos.dtype)
    out.lattice_shape = torch.tensor([list(new_shape)], device=data.lattice_shape.device)
    return out


class AddHierarchy(BaseTransform):
    r"""Attaches the coarse-graining hierarchy of a lattice graph.

    Returns a :class:`~sgnn.data.HierarchicalData` copy with the levels of
    :func:`~sgnn.data.coarse_grain_hierarchy` for the graph's
    ``lattice_shape``; the input is not modified.

    Args:
        factor (int, optional): Block side :math:`b \ge 2`. (default: ``2``)
        num_levels (int, optional): Fixed number of levels, so that lattices
            of different sizes batch together. (default: :obj:`None`)
        boundary (str, optional): ``"open"`` or ``"periodic"``.
            (default: ``"open"``)
    """

    def __init__(
        self, factor: int = 2, num_levels: int | None = None, boundary: str = "open"
    ) -> None:
        coarse_grain_hierarchy((1, 1), factor, boundary, num_levels)  # validates
        self.factor = factor
        self.num_levels = num_levels
        self.boundary = boundary

    def forward(self, data: Data) -> HierarchicalData:
        shape = data_lattice_shape(data)
        hierarchy = coarse_grain_hierarchy(shape, self.factor, self.boundary, self.num_levels)
        return hierarchy.attach(data)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(factor={self.factor}, num_levels={self.num_levels}, "
            f"boundary={self.boundary!r})"
        )


class AddDilatedEdges(BaseTransform):
    r"""Attaches the edges of the lattice dilated by each :math:`d > 1`.

    Site :math:`(i, j)` is joined to :math:`(i \pm d, j)` and
    :math:`(i, j \pm d)` (:func:`lattice_graph` with ``dilation=d``); the
    edges go under :func:`dilated_edge_key` ``(d)``, which
    :class:`~sgnn.nn.LatticeGNN` reads. Dilation 1 is the ``edge_index``
    already present. Returns a copy; the input is not modified.

    Args:
        dilations (Sequence[int]): Dilations to add (1 is skipped).
        boundary (str, optional): ``"open"`` or ``"periodic"``.
            (default: ``"open"``)
    """

    def __init__(self, dilations: Sequence[int], boundary: str = "open") -> None:
        if isinstance(dilations, int) or not isinstance(dilations, Sequence):
            raise TypeError(f"dilations must be a sequence of ints, got {dilations!r}")
        for d in dilations:
            dilated_edge_key(d)  # validates
        if boundary not in _BOUNDARIES:
            raise ValueError(f"boundary must be one of {_BOUNDARIES}, got {boundary!r}")
        self.dilations = tuple(sorted(set(dilations)))
        self.boundary = boundary

    def forward(self, data: Data) -> Data:
        shape = data_lattice_shape(data)
        out = copy.copy(data)
        for d in self.dilations:
            if d > 1:
                out[dilated_edge_key(d)] = lattice_graph(shape, self.boundary, dilation=d)[0]
        return out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({list(self.dilations)}, "
                f"boundary={self.boundary!r})")  # fmt: skip
