"""Square lattices and sandpile configurations as PyG graphs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from .._checks import check_lattice_shape, check_positive_int
from .._device import check_device

__all__ = [
    "DROP_SITE_COLUMN",
    "HEIGHT_COLUMNS",
    "MISSING_COLUMN",
    "data_lattice_shape",
    "lattice_graph",
    "sandpile_heights",
    "sandpile_to_data",
]

_BOUNDARIES = ("open", "periodic")

#: The columns of :func:`sandpile_to_data`'s node features: the one-hot height,
HEIGHT_COLUMNS = slice(0, 4)
#: the number of missing neighbours (grains lost per toppling),
MISSING_COLUMN = 4
#: and, with a drop site, its indicator.
DROP_SITE_COLUMN = 5


def data_lattice_shape(data: Data) -> tuple[int, int]:
    """The lattice shape ``(H, W)`` of a graph built by :func:`sandpile_to_data`
    (stored as ``data.lattice_shape``; in a batch, the first graph's)."""
    if "lattice_shape" not in data:
        raise ValueError("data needs lattice_shape (H, W); build it with sandpile_to_data")
    h, w = (int(v) for v in data.lattice_shape.view(-1)[:2])
    return h, w


def lattice_graph(
    shape: tuple[int, int],
    boundary: str = "open",
    device: torch.device | str | None = None,
    dilation: int = 1,
) -> tuple[Tensor, Tensor]:
    r"""The 4-neighbour square lattice of the Bak--Tang--Wiesenfeld model.

    Site :math:`(i, j)` of an :math:`H \times W` lattice is node
    :math:`iW + j`, connected to :math:`(i \pm d, j)` and :math:`(i, j \pm d)`
    for dilation :math:`d` (1 for the lattice itself; :math:`2^k` gives the
    edges of dilated lattice convolutions).
    With ``boundary="open"`` edges that would leave the lattice are absent;
    with ``"periodic"`` they wrap around. Both directions of every edge are
    present, the edge list is coalesced (sorted by source, then target, no
    duplicates) and has no self-loops, so on a periodic side of length 1 or 2
    the wrapped edges collapse into the existing ones.

    This differs from :func:`torch_geometric.utils.grid`, which builds the
    8-neighbour lattice with self-loops.

    Args:
        shape (tuple[int, int]): :math:`(H, W)`.
        boundary (str, optional): ``"open"`` or ``"periodic"``.
            (default: ``"open"``)
        device (torch.device, optional): Where to build the tensors.
            (default: :obj:`None`, the CPU)
        dilation (int, optional): Distance :math:`d \ge 1` between
            neighbours along each axis. (default: ``1``)

    Returns:
        (torch.Tensor, torch.Tensor): ``edge_index`` of shape :math:`(2, E)`
        and ``pos``, the integer coordinates :math:`(i, j)` of every node, of
        shape :math:`(HW, 2)`, both ``torch.long``.
    """
    h, w = check_lattice_shape(shape)
    device = check_device(device)
    if boundary not in _BOUNDARIES:
        raise ValueError(f"boundary must be one of {_BOUNDARIES}, got {boundary!r}")
    check_positive_int(dilation, "dilation")
    d = int(dilation)
    n = h * w
    # Built in numpy with int32 indices: its boolean compaction is about twice as
    # fast as torch's masked select on these sizes, and int32 halves the traffic.
    index_dtype = np.int32 if n + w < 2**31 else np.int64
    node = np.arange(n, dtype=index_dtype)
    i, j = np.divmod(node, index_dtype(w))
    if boundary == "open":
        # Neighbours in increasing index order (up, left, right, down), so that
        # a row-major compaction is already sorted by (source, target).
        nbr = np.stack([node - d * w, node - d, node + d, node + d * w], axis=1)
        valid = np.stack([i >= d, j >= d, j < w - d, i < h - d], axis=1)
    else:
        up = ((i - d) % h) * w + j
        down = ((i + d) % h) * w + j
        left = i * w + (j - d) % w
        right = i * w + (j + d) % w
        nbr = np.sort(np.stack([up, left, right, down], axis=1), axis=1)
        valid = nbr != node[:, None]  # no self-loops (sides dividing d)
        valid[:, 1:] &= nbr[:, 1:] != nbr[:, :-1]  # no duplicates (sides dividing 2d)
    src = np.broadcast_to(node[:, None], nbr.shape)[valid]
    edge_index = torch.from_numpy(np.stack([src, nbr[valid]]).astype(np.int64))
    pos = torch.from_numpy(np.stack([i, j], axis=1).astype(np.int64))
    return edge_index.to(device), pos.to(device)


def sandpile_heights(x: Tensor) -> Tensor:
    """The heights :math:`z_i \\in \\{0..3\\}` (long, :math:`(N,)`) from the node
    features ``x`` of :func:`sandpile_to_data`, read from :data:`HEIGHT_COLUMNS`."""
    if not isinstance(x, Tensor) or x.dim() != 2 or x.size(1) <= MISSING_COLUMN:
        raise ValueError(f"x must be sandpile node features of shape (N, >= "
                         f"{MISSING_COLUMN + 1}), got {getattr(x, 'shape', type(x).__name__)}")
    return x[:, HEIGHT_COLUMNS].argmax(dim=1)


def sandpile_to_data(
    z: Any,
    drop_site: tuple[int, int] | None = None,
    targets: Mapping[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Data:
    r"""A stable sandpile configuration as a PyG :class:`~torch_geometric.data.Data`.

    Node features, in this order:

    ========  ===============================================================
    columns   meaning
    ========  ===============================================================
    0--3      one-hot height :math:`z_i \in \{0, 1, 2, 3\}`
    4         number of missing neighbours (0 inside, 1 on an edge, 2 at a
              corner of the open lattice): grains lost per toppling
    5         (only with ``drop_site``) 1 at the site where a grain is dropped
    ========  ===============================================================

    The graph is :func:`lattice_graph` with open boundaries. ``lattice_shape``
    holds :math:`(H, W)` as a :math:`(1, 2)` tensor, so a batch keeps every
    graph's shape, and graphs of different sizes batch together.

    Args:
        z (array_like): Stable heights, integers in :math:`0..3`, shape
            :math:`(H, W)`.
        drop_site (tuple[int, int], optional): Adds the drop-site channel.
            (default: :obj:`None`)
        targets (Mapping[str, array_like], optional): Stored under their
            names. A value of shape :math:`(H, W, \dots)` or
            :math:`(HW, \dots)` is a node-level target (flattened row-major to
            :math:`(HW, \dots)`); anything else is graph-level and gets a
            leading dimension of 1, so that batches stack it. (default:
            :obj:`None`)
        dtype (torch.dtype, optional): Floating dtype of ``x``.
            (default: ``torch.float32``)
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    heights = _as_height_tensor(z)
    h, w = heights.shape
    n = h * w
    edge_index, pos = lattice_graph((h, w))
    i, j = pos[:, 0], pos[:, 1]
    x = torch.zeros(n, DROP_SITE_COLUMN + (drop_site is not None), dtype=dtype)
    x[:, HEIGHT_COLUMNS] = torch.nn.functional.one_hot(heights.reshape(-1), num_classes=4)
    x[:, MISSING_COLUMN] = sum(((i == 0), (i == h - 1), (j == 0), (j == w - 1)), torch.zeros(n))
    if drop_site is not None:
        a, b = _check_site(drop_site, (h, w))
        x[a * w + b, DROP_SITE_COLUMN] = 1
    data = Data(
        x=x,
        edge_index=edge_index,
        pos=pos,
        lattice_shape=torch.tensor([[h, w]]),
        num_nodes=n,
    )
    for name, value in (targets or {}).items():
        if not isinstance(name, str) or not name.isidentifier() or name in data:
            raise ValueError(f"targets key {name!r} must be a new attribute name")
        if hasattr(Data, name):
            raise ValueError(
                f"targets key {name!r} would be shadowed by Data.{name}; rename it "
                f"(e.g. 'avalanche_{name}')"
            )
        data[name] = _target_tensor(value, (h, w), name)
    return data


def _as_height_tensor(z: Any, name: str = "z") -> Tensor:
    if isinstance(z, Tensor):
        arr = z.detach().cpu().numpy()
    else:
        arr = np.asarray(z)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer heights, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (H, W), got shape {arr.shape}")
    if arr.min() < 0 or arr.max() > 3:
        raise ValueError(
            f"{name} must be a stable configuration with heights in 0..3, got "
            f"{arr.min()}..{arr.max()}; relax it first"
        )
    return torch.from_numpy(arr.astype(np.int64))


def _check_site(site: Any, shape: tuple[int, int], name: str = "drop_site") -> tuple[int, int]:
    try:
        a, b = site
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (i, j) of ints, got {site!r}") from None
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in (a, b)):
        raise TypeError(f"{name} must be a pair (i, j) of ints, got {site!r}")
    if not (0 <= a < shape[0] and 0 <= b < shape[1]):
        raise ValueError(f"{name} {site!r} is outside the lattice of shape {shape}")
    return int(a), int(b)


def _target_tensor(value: Any, shape: tuple[int, int], name: str) -> Tensor:
    # A C-ordered copy: numpy views may have negative strides, which torch refuses.
    t = value if isinstance(value, Tensor) else torch.as_tensor(np.array(value, order="C"))
    h, w = shape
    if t.dim() >= 2 and tuple(t.shape[:2]) == (h, w):
        return t.reshape(h * w, *t.shape[2:])
    if t.dim() >= 1 and t.shape[0] == h * w:
        return t
    if t.dim() >= 1 and h * w > 1 and t.numel() == h * w:
        raise ValueError(f"targets[{name!r}] has {h * w} entries but shape {tuple(t.shape)}")
    return t.reshape(1, *t.shape)
