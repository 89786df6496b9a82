r"""A hazard map from the first waves: an exact fixed point, then a learned head
(the ``"wave"`` model).

The avalanche of a grain at :math:`o` is a sequence of waves, each the least fixed
point of a monotone closure (:func:`~sgnn.sandpile.avalanche_waves`), and its size is
the sum of their sizes. :class:`WaveHazard` computes the first waves of every site
exactly, with :func:`~sgnn.sandpile.wave_sizes` (one closure per cluster of sites at
height 3, not one per site), and learns the rest: a small local network reads the
heights and the scale-free wave ratio and estimates how much the waves after the
first carry, as a multiple of the second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import Module
from torch_geometric.data import Data
from torch_geometric.utils import k_hop_subgraph

from .._checks import check_positive_int
from ..data.lattice import sandpile_heights
from ..nn.lattice_gnn import LatticeGNN
from ..sandpile import wave_sizes

__all__ = ["WaveHazard"]

#: Sandpile node features read by the head (one-hot height, missing neighbours).
_SITE_CHANNELS = 5


def _per_lattice(data: Any, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    r"""``fn(z)`` on the :math:`H \times W` heights of every lattice of ``data`` (a graph or
    a batch of :func:`~sgnn.data.sandpile_to_data` graphs), one row per site, stacked in
    node order: shape :math:`(N, \dots)`."""
    heights = sandpile_heights(data.x).cpu().numpy()
    if "lattice_shape" not in data:
        raise ValueError("data has no 'lattice_shape': build it with "
                         "sgnn.data.sandpile_to_data")  # fmt: skip
    shapes = data.lattice_shape.view(-1, 2).tolist()
    ptr = data.ptr.tolist() if "ptr" in data else [0, heights.size]
    if len(ptr) != len(shapes) + 1 or ptr[-1] != heights.size:
        raise ValueError(f"data.lattice_shape must hold one (H, W) per graph, got "
                         f"{len(shapes)} for {len(ptr) - 1} graphs")  # fmt: skip
    parts = []
    for (h, w), start, stop in zip(shapes, ptr[:-1], ptr[1:], strict=True):
        if h * w != stop - start:
            raise ValueError(f"a graph of {stop - start} nodes cannot be a {h}x{w} lattice")
        parts.append(np.asarray(fn(heights[start:stop].reshape(h, w))).reshape(stop - start, -1))
    return np.concatenate(parts)


class WaveHazard(Module):
    r"""The hazard :math:`\log(1 + s_o)` of every site from its first waves and a
    learned correction.

    With :math:`w_1, w_2` the sizes of the first two waves started at :math:`o`
    (exact, :func:`~sgnn.sandpile.wave_sizes`),

    .. math::
        \hat h_o = \log\Big(1 + w_1 + w_2 \big(1 + e^{g_\theta(x, \rho, [w_2 > 0])_o}
            \big)\Big), \qquad \rho = w_2 / w_1,

    where :math:`g_\theta` is a :class:`~sgnn.nn.LatticeGNN` on nearest-neighbour
    edges and :math:`x` the sandpile node features: the waves after the first
    carry :math:`1 + e^{g}` times the second. Two facts are built in: a site
    without a second wave has no later one either (its avalanche is its first wave,
    exactly, and 0 below height 3), and the avalanche is never smaller than its
    first two waves. The head never sees an absolute size, only the ratio of the
    waves, so what it learns on small lattices applies unchanged on large ones; the
    growth of the hazard with the lattice is carried by the exact waves.

    Args:
        hidden_channels (int, optional): Width of the head. (default: ``32``)
        num_layers (int, optional): Message-passing layers of the head.
            (default: ``2``)
        num_waves (int, optional): Exact waves computed, 1 or 2. With 1,
            :math:`w_2 = 0`, so the head is never used and the model is the exact
            first-wave baseline. (default: ``2``)

    Shapes:
        - **input:** ``data`` with sandpile node features ``x`` :math:`(N, \ge 5)`
          (:func:`~sgnn.data.sandpile_to_data`), ``edge_index``, ``lattice_shape``
          and, for a batch, ``ptr``
        - **output:** :math:`(N, 1)`
    """

    def __init__(self, hidden_channels: int = 32, num_layers: int = 2, num_waves: int = 2) -> None:
        super().__init__()
        check_positive_int(hidden_channels, "hidden_channels")
        check_positive_int(num_layers, "num_layers")
        if isinstance(num_waves, bool) or not isinstance(num_waves, int):
            raise TypeError(f"num_waves must be an int, got {num_waves!r}")
        if num_waves not in (1, 2):
            raise ValueError(f"num_waves must be 1 or 2, got {num_waves}")
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.num_waves = num_waves
        self.head = LatticeGNN(_SITE_CHANNELS + 2, hidden_channels, 1, (1,) * num_layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.head.reset_parameters()

    def waves(self, data: Any) -> Tensor:
        """The exact wave sizes of every site of ``data``, float64 :math:`(N, 2)`
        (the second column 0 with ``num_waves=1``)."""
        out = np.zeros((data.x.size(0), 2))
        out[:, : self.num_waves] = _per_lattice(
            data, lambda z: wave_sizes(z, num_waves=self.num_waves).reshape(self.num_waves, -1).T)
        return torch.from_numpy(out).to(data.x.device)

    def forward(self, data: Any) -> Tensor:
        x = data.x
        if x.dim() != 2 or x.size(1) < _SITE_CHANNELS:
            raise ValueError(f"data.x must have shape (N, >= {_SITE_CHANNELS}), got "
                             f"{tuple(x.shape)}")  # fmt: skip
        w = self.waves(data)
        first, second = w[:, 0], w[:, 1]
        active = first > 0
        ratio = torch.where(active, second / first.clamp(min=1), torch.zeros_like(first))
        features = torch.cat([x[:, :_SITE_CHANNELS], ratio[:, None].to(x.dtype),
                              (second > 0).to(x.dtype)[:, None]], dim=1)  # fmt: skip
        # The head matters only where there is a second wave; its receptive field is
        # num_layers hops, so it runs on that neighbourhood alone, with the same result.
        later = torch.zeros_like(first, dtype=x.dtype)
        needed = (second > 0).nonzero().view(-1)
        if needed.numel():
            subset, edge_index, centre, _ = k_hop_subgraph(
                needed, self.num_layers, data.edge_index, relabel_nodes=True,
                num_nodes=x.size(0))  # fmt: skip
            out = self.head(Data(x=features[subset], edge_index=edge_index))[centre, 0]
            later[needed] = torch.exp(out)
        first, second = first.to(x.dtype), second.to(x.dtype)
        return torch.log1p(first + second * (1 + later))[:, None]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(hidden_channels={self.hidden_channels}, "
                f"num_layers={self.num_layers}, num_waves={self.num_waves})")
