r"""The band-gap task: predict the TM gap--midgap ratio of a photonic crystal from the
permittivity image :math:`\varepsilon` of its unit cell (:mod:`sgnn.photonics`).

The gap is a property of the infinite crystal, so it is invariant under the periodic
translations of the cell and under the 8 symmetries of the square (:math:`D_4`). The four
models of :data:`BANDGAP_MODELS` compare an invariant multiscale network with an
invariant local one and with two baselines that have no symmetry built in, at matched
parameter counts."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

import torch
from torch import Tensor
from torch.nn import Conv2d, Linear, Module, Sequential, SiLU
from torch_geometric.nn.inits import reset
from torch_geometric.profile import count_parameters

from .._checks import check_int, check_number, check_positive_int
from .._device import values_are_checked
from ..data.transforms import AddDilatedEdges
from ..nn import LatticeGNN

__all__ = [
    "BANDGAP_MODELS",
    "CellMLP",
    "GridCNN",
    "ScaledPermittivity",
    "bandgap_model",
    "bandgap_transform",
]

#: The models of the band-gap task: an invariant stack of dilated lattice convolutions on
#: the periodic cell, the same stack without dilations, a convolutional network with zero
#: padding and a flattened readout, and a multilayer perceptron on the flattened cell.
BANDGAP_MODELS = ("dilated", "plain", "cnn", "mlp")


def _widths(value: Any, name: str, count: int | None = None) -> tuple[int, ...]:
    """``value`` (an int, repeated ``count`` times, or a sequence of ints) as a tuple of
    positive ints, or an error naming ``name``."""
    if isinstance(value, (int, bool)) or not isinstance(value, Sequence):
        return (check_positive_int(value, name),) * (1 if count is None else count)
    widths = tuple(check_positive_int(v, name) for v in value)
    if not widths or (count is not None and len(widths) != count):
        raise ValueError(f"{name} must be an int or {count or 'some'} positive ints, "
                         f"got {value!r}")  # fmt: skip
    return widths


def _cell_images(data: Any, side: int, channels: int) -> Tensor:
    """``data.x`` of a batch of ``side`` x ``side`` cells, nodes row-major and graphs in
    order, as images :math:`(B, C, n, n)`; a ``ValueError`` for any other batch."""
    x, n2 = data.x, side * side
    if x.dim() != 2 or x.size(1) != channels or x.size(0) % n2:
        raise ValueError(f"data.x must have shape (B * {n2}, {channels}) for {side} x {side} "
                         f"cells, got {tuple(x.shape)}")  # fmt: skip
    b = x.size(0) // n2
    if "lattice_shape" in data:
        shapes = data.lattice_shape.view(-1, 2)
        bad = shapes.size(0) != b or (
            values_are_checked(shapes) and bool((shapes != side).any()))  # fmt: skip
        if bad:
            raise ValueError(f"every cell of the batch must be {side} x {side}, got "
                             f"lattice_shape {shapes.tolist()}")  # fmt: skip
    if "ptr" in data and values_are_checked(data.ptr):
        expected = torch.arange(b + 1, device=data.ptr.device) * n2
        if data.ptr.shape != expected.shape or not torch.equal(data.ptr, expected):
            raise ValueError(f"every cell of the batch must have {n2} nodes, got ptr "
                             f"{data.ptr.tolist()}")  # fmt: skip
    return x.view(b, side, side, channels).permute(0, 3, 1, 2)


class ScaledPermittivity(Module):
    r"""Feeds a model the permittivities mapped affinely to order one.

    .. math::
        \mathbf{x}' = (\varepsilon - \varepsilon_0) / s, \qquad y = f(\mathbf{x}'),

    with :math:`\varepsilon_0` = ``offset`` and :math:`s` = ``scale``: the defaults map the
    dataset's range :math:`1 \le \varepsilon \le 20` to :math:`[0, 1.9]`, vacuum to 0. A
    pixel-wise map with no parameters, so it keeps every symmetry of :math:`f`. The other
    fields of the input are passed on untouched (a shallow copy; the input is not
    modified).

    Args:
        module (torch.nn.Module): The model :math:`f`, called with the scaled ``Data``.
        offset (float, optional): :math:`\varepsilon_0`. (default: ``1.0``)
        scale (float, optional): :math:`s > 0`. (default: ``10.0``)

    Shapes:
        - **input:** a ``Data`` (or batch) with ``x`` of shape :math:`(N, F)`, and what
          ``module`` reads
        - **output:** ``module``'s output
    """

    def __init__(self, module: Module, offset: float = 1.0, scale: float = 10.0) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        if isinstance(offset, bool) or not isinstance(offset, (int, float)):
            raise TypeError(f"offset must be a finite number, got {offset!r}")
        if not math.isfinite(offset):
            raise ValueError(f"offset must be a finite number, got {offset!r}")
        self.module = module
        self.offset = float(offset)
        self.scale = check_number(scale, "scale", strict=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.module)

    def forward(self, data: Any) -> Tensor:
        scaled = copy.copy(data)
        scaled.x = (data.x - self.offset) / self.scale
        return self.module(scaled)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.module!r}, offset={self.offset}, "
                f"scale={self.scale})")  # fmt: skip


class GridCNN(Module):
    r"""A convolutional network on the cell image with zero padding and a flattened
    readout: no symmetry built in.

    .. math::
        \mathbf{h}^{(0)} = \mathbf{x}, \qquad
        \mathbf{h}^{(\ell)} = \sigma\big(K_\ell \star \mathbf{h}^{(\ell-1)} + b_\ell\big),
        \qquad
        y = W \operatorname{vec}\big(\sigma(P\,\mathbf{h}^{(L)} + c)\big) + d,

    with :math:`3 \times 3` kernels :math:`K_\ell` on the :math:`n \times n` image padded
    with zeros (so the cell's edges are walls, not periodic), a :math:`1 \times 1`
    convolution :math:`P` to ``readout_channels`` channels, and a linear map :math:`W` of
    all :math:`n^2 R` features. Neither the zero padding nor :math:`W` commutes with the
    periodic translations or :math:`D_4`: the non-invariant baseline of
    :func:`bandgap_model`.

    Args:
        side (int): Pixels per side :math:`n` of the cells.
        hidden_channels (int or Sequence[int]): Width of every convolution, or one width
            per convolution.
        num_layers (int, optional): Convolutions :math:`L` with an int ``hidden_channels``.
            (default: :obj:`None`, 4, or the length of ``hidden_channels``)
        in_channels (int, optional): Features per pixel. (default: ``1``)
        out_channels (int, optional): Outputs per cell. (default: ``1``)
        readout_channels (int, optional): Channels :math:`R` of the flattened readout.
            (default: ``1``)
        act (Callable, optional): :math:`\sigma`. (default: :class:`torch.nn.SiLU`)

    Shapes:
        - **input:** a batch of :math:`B` cells, all :math:`n \times n`, with ``x`` of
          shape :math:`(B n^2, F_{in})`, pixel :math:`(i, j)` at node :math:`i n + j`,
          and ``lattice_shape`` :math:`(B, 2)` (checked when present)
        - **output:** :math:`(B, F_{out})`
    """

    def __init__(self, side: int, hidden_channels: int | Sequence[int],
                 num_layers: int | None = None, in_channels: int = 1, out_channels: int = 1,
                 readout_channels: int = 1, act: Callable[[], Module] = SiLU) -> None:  # fmt: skip
        super().__init__()
        self.side = check_int(side, "side", minimum=1)
        layers = check_int(num_layers, "num_layers", optional=True)
        self.hidden_channels = _widths(hidden_channels, "hidden_channels",
                                       4 if layers is None and isinstance(hidden_channels, int)
                                       else layers)  # fmt: skip
        self.num_layers = len(self.hidden_channels)
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.readout_channels = check_positive_int(readout_channels, "readout_channels")
        convs: list[Module] = []
        for a, b in pairwise((self.in_channels, *self.hidden_channels)):
            convs += [Conv2d(a, b, 3, padding=1), act()]
        self.convs = Sequential(*convs)
        self.project = Sequential(Conv2d(self.hidden_channels[-1], self.readout_channels, 1),
                                  act())  # fmt: skip
        self.readout = Linear(self.side**2 * self.readout_channels, self.out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for child in self.children():
            reset(child)

    def forward(self, data: Any) -> Tensor:
        h = self.project(self.convs(_cell_images(data, self.side, self.in_channels)))
        return self.readout(h.flatten(1))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.side}, {list(self.hidden_channels)}, "
                f"{self.out_channels}, readout_channels={self.readout_channels})")  # fmt: skip


class CellMLP(Module):
    r"""A multilayer perceptron on the flattened cell image: no symmetry built in.

    .. math::
        y = W_3\,\sigma\big(W_2\,\sigma(W_1 \operatorname{vec}(\mathbf{x}) + b_1)
            + b_2\big) + b_3

    with pixel :math:`(i, j)` of the :math:`n \times n` cell at entry :math:`i n + j` of
    :math:`\operatorname{vec}(\mathbf{x})`.

    Args:
        side (int): Pixels per side :math:`n` of the cells.
        hidden_channels (int or Sequence[int]): Width of both hidden layers, or one width
            per hidden layer.
        in_channels (int, optional): Features per pixel. (default: ``1``)
        out_channels (int, optional): Outputs per cell. (default: ``1``)
        act (Callable, optional): :math:`\sigma`. (default: :class:`torch.nn.SiLU`)

    Shapes:
        - **input:** a batch of :math:`B` cells, all :math:`n \times n`, with ``x`` of
          shape :math:`(B n^2, F_{in})`, and ``lattice_shape`` :math:`(B, 2)` (checked
          when present)
        - **output:** :math:`(B, F_{out})`
    """

    def __init__(self, side: int, hidden_channels: int | Sequence[int], in_channels: int = 1,
                 out_channels: int = 1, act: Callable[[], Module] = SiLU) -> None:  # fmt: skip
        super().__init__()
        self.side = check_int(side, "side", minimum=1)
        self.hidden_channels = _widths(
            hidden_channels, "hidden_channels", 2 if isinstance(hidden_channels, int) else None
        )
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        layers: list[Module] = []
        for a, b in pairwise((self.side**2 * self.in_channels, *self.hidden_channels)):
            layers += [Linear(a, b), act()]
        self.net = Sequential(*layers, Linear(self.hidden_channels[-1], self.out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for child in self.children():
            reset(child)

    def forward(self, data: Any) -> Tensor:
        x = _cell_images(data, self.side, self.in_channels)
        return self.net(x.permute(0, 2, 3, 1).flatten(1))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.side}, {list(self.hidden_channels)}, "
                f"{self.out_channels})")  # fmt: skip


def _fit_widths(count: Callable[[int, int], int], target: int) -> tuple[int, int]:
    """Widths ``(w, v)``, ``v >= w``, whose parameter count ``count(w, v)`` is closest to
    ``target``: ``w`` the widest with ``count(w, w) <= target`` (1 if none), then ``v``
    (the count is affine in ``v``)."""
    w = 1
    while count(w + 1, w + 1) <= target:
        w += 1
    step = count(w, w + 1) - count(w, w)
    return w, max(w, round(w + (target - count(w, w)) / step))


def bandgap_model(name: str, side: int, hidden_channels: int = 16,
                  dilations: Sequence[int] = (1, 2, 4, 8)) -> Module:  # fmt: skip
    r"""A model of the band-gap task, one predicted gap--midgap ratio per cell.

    Every model reads the permittivities through :class:`ScaledPermittivity`,
    :math:`(\varepsilon - 1) / 10`:

    * ``"dilated"``: :class:`~sgnn.nn.LatticeGNN` with ``dilations`` on the periodic
      lattice (:func:`bandgap_transform`) and mean pooling, invariant under the periodic
      translations and :math:`D_4`, with a receptive field of the whole cell;
    * ``"plain"``: the same with every dilation 1 (identical parameter count);
    * ``"cnn"``: :class:`GridCNN` with ``len(dilations)`` convolutions and one readout
      channel;
    * ``"mlp"``: :class:`CellMLP` with two hidden layers.

    The widths of ``"cnn"`` and ``"mlp"`` are chosen so that their parameter counts are
    closest to the lattice models': the widest uniform network that is not larger, then
    the width of the last hidden layer (no narrower than the others) that closes the
    gap. The counts agree within 1 % for :math:`n = 16` and 32 and ``hidden_channels``
    8, 16 and 32. The MLP's first layer alone has :math:`n^2 + 1` parameters per unit,
    so on large cells with small ``hidden_channels`` it is narrow (a single unit at
    :math:`n = 32`, ``hidden_channels=8``).

    Args:
        name (str): One of :data:`BANDGAP_MODELS`.
        side (int): Pixels per side :math:`n \ge 4` of the cells (used by ``"cnn"`` and
            ``"mlp"``, checked for all).
        hidden_channels (int, optional): Width of the lattice models. (default: ``16``)
        dilations (Sequence[int], optional): Dilations of the dilated model, one per layer.
            (default: ``(1, 2, 4, 8)``)

    Shapes:
        - **input:** a batch of cells (:class:`~torch_geometric.data.Batch`) with ``x``
          :math:`(B n^2, 1)` the permittivities, ``edge_index``, ``lattice_shape``, and
          the edges of :func:`bandgap_transform`
        - **output:** :math:`(B, 1)`
    """
    if not isinstance(name, str) or name not in BANDGAP_MODELS:
        raise ValueError(f"name must be one of {BANDGAP_MODELS}, got {name!r}")
    side = check_int(side, "side", minimum=4)
    hidden_channels = check_positive_int(hidden_channels, "hidden_channels")
    dilations = tuple(dilations)
    lattice = LatticeGNN(1, hidden_channels, 1, dilations, graph_aggr="mean")
    if name == "dilated":
        return ScaledPermittivity(lattice)
    if name == "plain":
        return ScaledPermittivity(LatticeGNN(1, hidden_channels, 1, (1,) * len(dilations),
                                             graph_aggr="mean"))  # fmt: skip
    target, layers = count_parameters(lattice), len(dilations)

    def cnn(w: int, v: int) -> GridCNN:
        return GridCNN(side, (w,) * (layers - 1) + (v,), layers)

    def mlp(w: int, v: int) -> CellMLP:
        return CellMLP(side, (w, v))

    build = cnn if name == "cnn" else mlp
    count = _cnn_count(side, layers) if name == "cnn" else _mlp_count(side)
    return ScaledPermittivity(build(*_fit_widths(count, target)))


def _cnn_count(side: int, layers: int) -> Callable[[int, int], int]:
    """The parameters of ``GridCNN(side, (w,) * (layers - 1) + (v,))``, in closed form."""

    def count(w: int, v: int) -> int:
        widths = (1,) + (w,) * (layers - 1) + (v,)
        convs = sum(9 * a * b + b for a, b in pairwise(widths))
        return convs + (v + 1) + (side * side + 1)

    return count


def _mlp_count(side: int) -> Callable[[int, int], int]:
    """The parameters of ``CellMLP(side, (w, v))``, in closed form."""
    return lambda w, v: (side * side + 1) * w + (w + 1) * v + (v + 1)


def bandgap_transform(dilations: Sequence[int] = (1, 2, 4, 8)) -> AddDilatedEdges:
    """What the lattice models of :func:`bandgap_model` read: the periodic dilated edges,
    :class:`~sgnn.data.AddDilatedEdges` ``(dilations, boundary="periodic")`` (harmless for
    ``"cnn"`` and ``"mlp"``, which ignore them)."""
    return AddDilatedEdges(dilations, boundary="periodic")
