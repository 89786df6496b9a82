"""Observables of sandpiles with exact reference values."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import as_graph, check_heights, lattice_shape
from .graph import SandpileGraph

__all__ = ["expected_avalanche_size", "height_probabilities", "square_lattice_height_probabilities"]


def expected_avalanche_size(shape: Any) -> float:
    r"""Dhar's exact mean avalanche size in the stationary state.

    Adding a grain at :math:`i` makes site :math:`j` topple
    :math:`G_{ij} = (\Delta^{-1})_{ij}` times on average over the stationary
    measure, so for drops at uniformly random sites

    .. math::
        \langle s \rangle = \frac{1}{N} \mathbf{1}^\top \Delta^{-1} \mathbf{1},

    with :math:`\Delta` the reduced Laplacian (:meth:`SandpileGraph.to_scipy`).
    On an :math:`H \times W` lattice (``shape`` given as a tuple), :math:`\Delta`
    is the Dirichlet Laplacian, diagonal in the sine basis, and

    .. math::
        \mathbf{1}^\top \Delta^{-1} \mathbf{1} = \sum_{p=1}^{H} \sum_{q=1}^{W}
        \frac{a_p^2 b_q^2}{4 - 2\cos\frac{p\pi}{H+1} - 2\cos\frac{q\pi}{W+1}},

    with :math:`a_p, b_q` the sums of the normalised sine modes: :math:`O(HW)`
    time and :math:`O(H + W)` memory per row block, so 2048 × 2048 takes well
    under a second. Other graphs take one sparse solve.

    Args:
        shape (tuple[int, int] or SandpileGraph): A lattice shape or a graph.
    """
    from scipy.sparse.linalg import spsolve

    if not isinstance(shape, SandpileGraph):
        return _lattice_mean_size(*lattice_shape(shape, fits=False))
    graph = as_graph(shape)
    ones = np.ones(graph.num_nodes)
    x = spsolve(graph.to_scipy().tocsc(), ones)
    return float(np.mean(x))


def _sine_mode_sums(n: int) -> np.ndarray:
    r""":math:`\sum_i v_p(i)` of the normalised Dirichlet modes
    :math:`v_p(i) = \sqrt{2/(n+1)} \sin(p \pi i / (n+1))`, :math:`p = 1..n`."""
    theta = np.arange(1, n + 1) * np.pi / (n + 1)
    # sum_{i=1}^{n} sin(i t) = sin(n t / 2) sin((n + 1) t / 2) / sin(t / 2)
    total = np.sin(n * theta / 2) * np.sin((n + 1) * theta / 2) / np.sin(theta / 2)
    return np.sqrt(2.0 / (n + 1)) * total


def _lattice_mean_size(h: int, w: int) -> float:
    a2, b2 = _sine_mode_sums(h) ** 2, _sine_mode_sums(w) ** 2
    ch = 4.0 - 2.0 * np.cos(np.arange(1, h + 1) * np.pi / (h + 1))
    cw = 2.0 * np.cos(np.arange(1, w + 1) * np.pi / (w + 1))
    total = 0.0
    rows = max(1, (1 << 22) // w)  # bounded memory, whatever the lattice
    for start in range(0, h, rows):
        block = slice(start, start + rows)
        total += float((a2[block, None] * b2[None, :] / (ch[block, None] - cw[None, :])).sum())
    return total / (h * w)


def height_probabilities(z: Any, graph: SandpileGraph | None = None) -> np.ndarray:
    r"""Frequencies of the heights :math:`0, \dots, \max_i d_i - 1` in a configuration.

    Args:
        z (array_like): Stable non-negative integer heights, as in
            :func:`~sgnn.sandpile.relax`.
        graph (SandpileGraph, optional): As in :func:`~sgnn.sandpile.relax`.

    Returns:
        numpy.ndarray: float64, shape :math:`(\max_i d_i,)`, summing to 1.
    """
    arr, graph = check_heights(z, graph)
    levels = int(graph.threshold.max())
    flat = arr.reshape(-1)
    if np.any(flat >= graph.threshold):
        raise ValueError("z must be stable (every height below its threshold)")
    return np.bincount(flat, minlength=levels) / flat.size


def square_lattice_height_probabilities() -> np.ndarray:
    r"""Stationary height probabilities of the BTW model on the infinite square lattice.

    Majumdar–Dhar (height 0) and Priezzhev (heights 1–3):

    .. math::
        P_0 = \frac{2}{\pi^2} - \frac{4}{\pi^3},\quad
        P_1 = \frac14 - \frac{1}{2\pi} - \frac{3}{\pi^2} + \frac{12}{\pi^3},\quad
        P_2 = \frac38 + \frac1\pi - \frac{12}{\pi^3},\quad
        P_3 = 1 - P_0 - P_1 - P_2,

    so that the mean height is :math:`17/8`.

    Returns:
        numpy.ndarray: float64, shape :math:`(4,)`.
    """
    pi = np.pi
    p0 = 2 / pi**2 - 4 / pi**3
    p1 = 0.25 - 1 / (2 * pi) - 3 / pi**2 + 12 / pi**3
    p2 = 0.375 + 1 / pi - 12 / pi**3
    return np.array([p0, p1, p2, 1.0 - p0 - p1 - p2])
