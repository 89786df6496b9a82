r"""Unit cells of two-dimensional photonic crystals: the textbook rod and vein lattices, and
random two-phase cells for data-scarce learning.

Pixel ``eps[i, j]`` of an :math:`n \times n` cell is centred at :math:`((i + \frac12)/n,
(j + \frac12)/n)` (lattice constant :math:`a = 1`), as in :func:`photonic_bands`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._checks import as_generator, check_int, check_number, check_positive_int

__all__ = ["random_cells", "rod_lattice", "vein_lattice"]

#: Smallest side of a unit cell (as in :mod:`sgnn.photonics.bands`).
_MIN_SIDE = 4
#: Sub-pixels per side of a pixel in the reference cells.
_MAX_SUPERSAMPLE = 64


def _check_side(n: Any) -> int:
    return int(check_int(n, "n", minimum=_MIN_SIDE))


def _check_range(value: Any, name: str, low: float, high: float | None) -> tuple[float, float]:
    """A pair ``(lo, hi)`` of finite numbers with ``low <= lo <= hi`` (``<= high``)."""
    upper = "" if high is None else f" <= {high:g}"
    expected = f"a pair (lo, hi) of numbers with {low:g} <= lo <= hi{upper}"
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {expected}, got {value!r}") from None
    try:
        lo = check_number(lo, name, minimum=low)
        hi = check_number(hi, name, minimum=low)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{name} must be {expected}, got {value!r}") from None
    if lo > hi or (high is not None and hi > high):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return lo, hi


def _area_fraction(n: int, supersample: int, inside: Callable[[np.ndarray, np.ndarray],
                   np.ndarray]) -> np.ndarray:  # fmt: skip
    """The fraction of each pixel where ``inside(x, y)`` holds, on ``supersample``
    :math:`\\times` ``supersample`` sub-pixel centres (the pixel centre for 1)."""
    s = check_int(supersample, "supersample", minimum=1)
    if s > _MAX_SUPERSAMPLE:
        raise ValueError(f"supersample must be an int between 1 and {_MAX_SUPERSAMPLE}, "
                         f"got {s}")  # fmt: skip
    sub = (np.arange(n * s) + 0.5) / (n * s)
    x, y = np.meshgrid(sub, sub, indexing="ij")
    return inside(x, y).astype(np.float64).reshape(n, s, n, s).mean(axis=(1, 3))


def rod_lattice(n: int, radius: float = 0.2, eps_rod: float = 8.9, eps_background: float = 1.0,
                supersample: int = 8) -> np.ndarray:  # fmt: skip
    r"""The square lattice of circular dielectric rods: one rod of radius ``radius``
    centred at :math:`(\frac12, \frac12)` of the unit cell.

    Each pixel holds the area average :math:`f \varepsilon_\mathrm{rod} + (1 - f)
    \varepsilon_\mathrm{background}`, :math:`f` the fraction of its ``supersample``
    :math:`^2` sub-pixel centres inside the rod (``supersample=1``: the plain test of the
    pixel centre). Averaging :math:`\varepsilon` is the right effective medium for TM
    fields, parallel to every interface, and removes the staircase error: with the
    textbook parameters (:math:`r = 0.2a`, :math:`\varepsilon = 8.9` in air; Joannopoulos et
    al. 2008, ch. 5) the TM gap between bands 1 and 2 has gap--midgap ratio 0.3129 at
    :math:`n = 32`, 0.3138 at 64 and 0.3140 at 128 (cutoff 7), against 31.4 % in the book.
    With ``eps_rod < eps_background`` it is a lattice of holes.

    Args:
        n (int): Pixels per side, :math:`\ge 4`.
        radius (float, optional): In units of :math:`a`, in :math:`[0, \frac12]`.
            (default: ``0.2``)
        eps_rod (float, optional): Permittivity of the rod, :math:`> 0`. (default: ``8.9``)
        eps_background (float, optional): Permittivity around it, :math:`> 0`.
            (default: ``1.0``)
        supersample (int, optional): Sub-pixels per side of a pixel, 1 to 64.
            (default: ``8``)

    Returns:
        numpy.ndarray: float64 :math:`(n, n)`, symmetric under the square's symmetries
        (:math:`D_4`) about the cell's centre.
    """
    n = _check_side(n)
    radius = check_number(radius, "radius")
    if radius > 0.5:
        raise ValueError(f"radius must be a number in [0, 0.5], got {radius!r}")
    eps_rod = check_number(eps_rod, "eps_rod", strict=True)
    eps_background = check_number(eps_background, "eps_background", strict=True)
    fraction = _area_fraction(
        n, supersample, lambda x, y: (x - 0.5) ** 2 + (y - 0.5) ** 2 < radius**2
    )
    return eps_background + (eps_rod - eps_background) * fraction


def vein_lattice(n: int, width: float = 0.165, eps_vein: float = 8.9,
                 eps_background: float = 1.0, supersample: int = 8) -> np.ndarray:  # fmt: skip
    r"""The square grid of dielectric veins: strips of width ``width`` along :math:`x` and
    :math:`y` through the cell's centre, which connect into a grid.

    Pixels are area averages as in :func:`rod_lattice`. The textbook parameters (width
    :math:`0.165a`, :math:`\varepsilon = 8.9`; Joannopoulos et al. 2008, ch. 5) give a TE
    gap between bands 1 and 2 (about 17 % at :math:`n = 64`, cutoff 10), where the rod
    lattice has none: connected high-:math:`\varepsilon` regions favour TE gaps, isolated
    ones TM gaps.

    Args:
        n (int): Pixels per side, :math:`\ge 4`.
        width (float, optional): In units of :math:`a`, in :math:`[0, 1]`.
            (default: ``0.165``)
        eps_vein (float, optional): Permittivity of the veins, :math:`> 0`.
            (default: ``8.9``)
        eps_background (float, optional): Permittivity between them, :math:`> 0`.
            (default: ``1.0``)
        supersample (int, optional): Sub-pixels per side of a pixel, 1 to 64.
            (default: ``8``)

    Returns:
        numpy.ndarray: float64 :math:`(n, n)`, :math:`D_4`-symmetric about the centre.
    """
    n = _check_side(n)
    width = check_number(width, "width")
    if width > 1:
        raise ValueError(f"width must be a number in [0, 1], got {width!r}")
    eps_vein = check_number(eps_vein, "eps_vein", strict=True)
    eps_background = check_number(eps_background, "eps_background", strict=True)
    half = width / 2
    fraction = _area_fraction(
        n, supersample, lambda x, y: (np.abs(x - 0.5) < half) | (np.abs(y - 0.5) < half)
    )
    return eps_background + (eps_vein - eps_background) * fraction


def random_cells(num_cells: int, n: int = 32, rng: np.random.Generator | int | None = None,
                 fill_range: tuple[float, float] = (0.2, 0.8),
                 eps_range: tuple[float, float] = (1.0, 20.0),
                 max_order: int = 2) -> np.ndarray:  # fmt: skip
    r"""Random two-phase unit cells, level sets of smooth random periodic fields, in the
    style of the data-scarce photonics literature (Christensen et al. 2020; Loh et al.
    2022, SIB-CL).

    For each cell a Gaussian random field of the lowest Fourier modes,

    .. math::
        \phi(\mathbf{r}) = \operatorname{Re} \sum_{0 < \max(|p|, |q|) \le P}
            c_{pq}\, e^{2\pi i (p x + q y)}, \qquad
            c_{pq} \sim \mathcal{N}(0, 1) + i\,\mathcal{N}(0, 1),

    :math:`P` = ``max_order``, is sampled at the pixel centres. A fill fraction :math:`f`
    is drawn uniformly from ``fill_range`` and a permittivity :math:`\varepsilon_h`
    uniformly from ``eps_range``; the :math:`\operatorname{round}(f n^2)` pixels of largest
    :math:`\phi` (the level set at the :math:`1 - f` quantile) hold :math:`\varepsilon_h`,
    the others :math:`\varepsilon = 1`. The high phase's fill fraction is thus within
    :math:`1/(2n^2)` of :math:`f`. The law of the cells is invariant under periodic
    translations and the square's symmetries; larger ``max_order`` gives finer features.

    Args:
        num_cells (int): Cells to draw, :math:`\ge 1`.
        n (int, optional): Pixels per side, :math:`\ge 4`. (default: ``32``)
        rng (numpy.random.Generator or int, optional): Generator or seed; the same seed
            gives the same cells. (default: :obj:`None`, fresh entropy)
        fill_range (tuple[float, float], optional): :math:`0 \le lo \le hi \le 1`, range of
            the high phase's fill fraction. (default: ``(0.2, 0.8)``)
        eps_range (tuple[float, float], optional): :math:`0 < lo \le hi`, range of
            :math:`\varepsilon_h`. (default: ``(1.0, 20.0)``)
        max_order (int, optional): :math:`P \ge 1`, the highest Fourier order of the field.
            (default: ``2``)

    Returns:
        numpy.ndarray: float64 :math:`(\mathrm{num\_cells}, n, n)`, values in
        :math:`\{1, \varepsilon_h\}` per cell.
    """
    num_cells = check_positive_int(num_cells, "num_cells")
    n = _check_side(n)
    generator = as_generator(rng)
    fill_lo, fill_hi = _check_range(fill_range, "fill_range", 0.0, 1.0)
    eps_lo, eps_hi = _check_range(eps_range, "eps_range", 0.0, None)
    if eps_lo == 0:
        raise ValueError(f"eps_range must be a pair (lo, hi) of numbers with 0 < lo <= hi, "
                         f"got {eps_range!r}")  # fmt: skip
    order = int(check_int(max_order, "max_order", minimum=1))
    if order > n // 2:
        raise ValueError(f"max_order must be an int between 1 and n // 2 = {n // 2}, got "
                         f"{order}")  # fmt: skip
    p, q = np.meshgrid(np.arange(-order, order + 1), np.arange(-order, order + 1),
                       indexing="ij")  # fmt: skip
    keep = (p != 0) | (q != 0)
    p, q = p[keep], q[keep]
    centres = (np.arange(n) + 0.5) / n
    # (modes, n, n): exp(2 pi i (p x_i + q y_j)), separable in x and y.
    basis = (np.exp(2j * np.pi * p[:, None] * centres)[:, :, None]
             * np.exp(2j * np.pi * q[:, None] * centres)[:, None, :])  # fmt: skip
    coefficients = generator.standard_normal((num_cells, p.size, 2)).view(np.complex128)[..., 0]
    fill = generator.uniform(fill_lo, fill_hi, num_cells)
    eps_high = generator.uniform(eps_lo, eps_hi, num_cells)
    field = (coefficients @ basis.reshape(p.size, n * n)).real
    count = np.rint(fill * n * n).astype(np.int64)
    # Rank of each pixel by field value, largest first (stable for the impossible ties).
    order_of = np.argsort(-field, axis=1, kind="stable")
    rank = np.empty_like(order_of)
    np.put_along_axis(rank, order_of, np.arange(n * n)[None, :], axis=1)
    high = rank < count[:, None]
    cells = np.where(high, eps_high[:, None], 1.0)
    return cells.reshape(num_cells, n, n)
