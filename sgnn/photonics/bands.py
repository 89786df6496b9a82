r"""Band structures of two-dimensional photonic crystals on the square lattice by the
plane-wave expansion method (Ho, Chan & Soukoulis 1990; Joannopoulos et al., *Photonic
Crystals: Molding the Flow of Light*, 2008).

Conventions, shared by the whole of :mod:`sgnn.photonics`:

* the lattice constant is :math:`a = 1`; a unit cell is a real :math:`n \times n` array
  ``eps`` of relative permittivities, periodic, whose pixel ``eps[i, j]`` is centred at
  :math:`\mathbf{r}_{ij} = ((i + \tfrac12)/n, (j + \tfrac12)/n)`: axis 0 is :math:`x`,
  axis 1 is :math:`y`;
* Bloch vectors :math:`\mathbf{k} = (k_x, k_y)` are in units of :math:`1/a`, reciprocal
  lattice vectors are :math:`\mathbf{G} = 2\pi (p, q)` with integers :math:`p, q`;
* frequencies are normalised, :math:`\omega a / (2\pi c)`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.linalg

from .._checks import check_int, check_number, check_positive_int
from .._memory import check_fits

__all__ = ["BandGap", "band_gap", "k_path", "num_plane_waves", "photonic_bands"]

_POLARIZATIONS = ("tm", "te")
#: The default cutoff on a grid that resolves it (149 plane waves).
_DEFAULT_CUTOFF = 7.0
#: Smallest side of a unit cell.
_MIN_SIDE = 4
#: Bytes per entry of an N x N plane-wave matrix held at once: the Toeplitz matrix, its
#: inverse or the scaled copy, LAPACK's copy and work space (complex), the index (int64).
_BYTES_PER_ENTRY = 7 * 16 + 8
#: Below this min |k + G|^2 (in 1/a^2) the TM problem is solved in its generalised form:
#: the scaled form loses digits of the lowest band as |k| -> 0 (1e-11 relative at 0.1).
_SMALL_K2 = 1e-2


def _check_cell(eps: Any, name: str = "eps") -> np.ndarray:
    """``eps`` as a C-contiguous float64 ``(n, n)`` array of finite positive numbers."""
    arr = np.asarray(eps)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real array of relative permittivities (n, n), "
                        f"got dtype {arr.dtype}")  # fmt: skip
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square 2-D array (n, n), got shape {arr.shape}")
    if arr.shape[0] < _MIN_SIDE:
        raise ValueError(f"{name} must be at least {_MIN_SIDE}x{_MIN_SIDE}, got shape "
                         f"{arr.shape}")  # fmt: skip
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold finite permittivities, found NaN or inf")
    if arr.min() <= 0:
        raise ValueError(f"{name} must hold strictly positive permittivities, got minimum "
                         f"{arr.min()!r}")  # fmt: skip
    return arr


def _check_polarization(polarization: Any) -> str:
    if not isinstance(polarization, str):
        raise TypeError(f"polarization must be 'tm' or 'te', got {polarization!r}")
    pol = polarization.lower()
    if pol not in _POLARIZATIONS:
        raise ValueError(f"polarization must be 'tm' or 'te', got {polarization!r}")
    return pol


def _check_k_points(k_points: Any) -> np.ndarray:
    """``k_points`` as a float64 ``(K, 2)`` array of finite Bloch vectors; the Γ–X–M–Γ
    path of :func:`k_path` for :obj:`None`."""
    if k_points is None:
        return k_path()
    arr = np.asarray(k_points)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise TypeError(f"k_points must be a real array of Bloch vectors (K, 2), got dtype "
                        f"{arr.dtype}")  # fmt: skip
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(f"k_points must be an array of Bloch vectors (K, 2) with K >= 1, "
                         f"got shape {arr.shape}")  # fmt: skip
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("k_points must be finite, found NaN or inf")
    return arr


def _max_order(n: int) -> int:
    """The largest :math:`P` with every :math:`p - p'`, :math:`|p|, |p'| \\le P`, distinct
    modulo ``n``, i.e. :math:`4P + 1 \\le n`."""
    return (n - 1) // 4


def _resolve_cutoff(cutoff: Any, n: int) -> float:
    """The cutoff as a float, checked against an :math:`n \\times n` grid."""
    if cutoff is None:
        return min(_DEFAULT_CUTOFF, float(_max_order(n)))
    cutoff = check_number(cutoff, "cutoff")
    order = math.floor(cutoff + 1e-9)
    if order > _max_order(n):
        raise ValueError(
            f"cutoff={cutoff!r} keeps plane waves up to |p| = {order}, whose differences "
            f"G - G' need Fourier coefficients of eps up to |p| = {2 * order}, more than a "
            f"{n}x{n} grid resolves (4 |p| + 1 <= n); use cutoff < {_max_order(n) + 1} "
            f"or a grid of at least {4 * order + 1}x{4 * order + 1} pixels")  # fmt: skip
    return cutoff


@lru_cache(maxsize=16)
def _plane_waves(cutoff: float) -> np.ndarray:
    """Integer :math:`(p, q)` with :math:`p^2 + q^2 \\le` ``cutoff``:math:`^2`, ordered by
    length, then :math:`p`, then :math:`q`; read-only int64 ``(N, 2)``."""
    order = math.floor(cutoff + 1e-9)
    p, q = np.meshgrid(np.arange(-order, order + 1), np.arange(-order, order + 1),
                       indexing="ij")  # fmt: skip
    norm2 = p**2 + q**2
    keep = norm2 <= cutoff**2 + 1e-9
    p, q, norm2 = p[keep], q[keep], norm2[keep]
    waves = np.stack([p, q], axis=1)[np.lexsort((q, p, norm2))].astype(np.int64)
    waves.flags.writeable = False
    return waves


def num_plane_waves(cutoff: float) -> int:
    r"""The number :math:`N` of plane waves :math:`\mathbf{G} = 2\pi (p, q)` with
    :math:`|\mathbf{G}| \le 2\pi \cdot` ``cutoff``, the size of the eigenproblems of
    :func:`photonic_bands` (about :math:`\pi\,\mathrm{cutoff}^2`: 81 at cutoff 5, 149 at 7,
    317 at 10).

    Args:
        cutoff (float): Radius of the disk of reciprocal lattice vectors, in units of
            :math:`2\pi / a`, at most 1000.
    """
    cutoff = check_number(cutoff, "cutoff")
    if cutoff > 1000:
        raise ValueError(f"cutoff must be at most 1000, got {cutoff!r}")
    return int(_plane_waves(cutoff).shape[0])


@lru_cache(maxsize=8)
def _toeplitz_index(cutoff: float, n: int) -> np.ndarray:
    """Flat indices into ``fft2(eps).ravel()`` of :math:`\\hat\\varepsilon(\\mathbf{G} -
    \\mathbf{G}')` for every pair of plane waves; read-only ``(N, N)``."""
    waves = _plane_waves(cutoff)
    dp = (waves[:, None, 0] - waves[None, :, 0]) % n
    dq = (waves[:, None, 1] - waves[None, :, 1]) % n
    index = dp * n + dq
    index.flags.writeable = False
    return index


def _prepare(n: int, cutoff: float, num_bands: int, workers: int = 1) -> np.ndarray:
    """The plane waves of ``cutoff`` (already resolved for ``n``), after checking that
    ``num_bands`` of them exist and that ``workers`` problems of their size fit in memory."""
    waves = _plane_waves(cutoff)
    size = waves.shape[0]
    if num_bands > size:
        raise ValueError(f"num_bands={num_bands} exceeds the {size} plane waves of "
                         f"cutoff={cutoff!r}; raise cutoff or ask for fewer bands")  # fmt: skip
    check_fits(workers * _BYTES_PER_ENTRY * size**2, "cutoff",
               f"the plane-wave matrices of {size} plane waves")  # fmt: skip
    return waves


def _solve(eps: np.ndarray, k_points: np.ndarray, num_bands: int, polarization: str,
           cutoff: float) -> np.ndarray:  # fmt: skip
    """The bands of a checked cell; the arguments are already validated."""
    n = eps.shape[0]
    waves = 2 * np.pi * _prepare(n, cutoff, num_bands).astype(np.float64)
    size = waves.shape[0]
    # fft2 / n^2 is the Fourier coefficient of eps about the first pixel's centre; the
    # half-pixel offset to the origin multiplies the matrices by diagonal phases
    # U [eps] U^*, which leaves every eigenvalue unchanged.
    coefficients = np.fft.fft2(eps).ravel() / n**2
    toeplitz = coefficients[_toeplitz_index(cutoff, n)]
    toeplitz = 0.5 * (toeplitz + toeplitz.conj().T)  # Hermitian to the last bit
    if polarization == "te":
        inverse = scipy.linalg.inv(toeplitz, overwrite_a=True, check_finite=False)
        inverse = 0.5 * (inverse + inverse.conj().T)
    out = np.empty((k_points.shape[0], num_bands))
    for row, k in enumerate(k_points):
        kg = k + waves
        norm2 = np.einsum("ij,ij->i", kg, kg)
        if polarization == "te":
            matrix = inverse * (np.outer(kg[:, 0], kg[:, 0]) + np.outer(kg[:, 1], kg[:, 1]))
            values = scipy.linalg.eigh(matrix, eigvals_only=True, overwrite_a=True,
                                       check_finite=False,
                                       subset_by_index=[0, num_bands - 1])  # fmt: skip
        elif norm2.min() > _SMALL_K2:
            # |k+G|^2 E = lambda [eps] E  <=>  D^-1/2 [eps] D^-1/2 y = (1/lambda) y, D the
            # diagonal |k+G|^2: a standard problem, its largest eigenvalues wanted.
            scale = 1.0 / np.sqrt(norm2)
            inverted = scipy.linalg.eigh(toeplitz * np.outer(scale, scale), eigvals_only=True,
                                         overwrite_a=True, check_finite=False,
                                         subset_by_index=[size - num_bands, size - 1],
                                         )  # fmt: skip
            values = 1.0 / inverted[::-1]
        else:  # near Gamma: the generalised form, exact at the zero frequency
            values = scipy.linalg.eigh(np.diag(norm2).astype(np.complex128), toeplitz,
                                       eigvals_only=True, check_finite=False,
                                       subset_by_index=[0, num_bands - 1])  # fmt: skip
        out[row] = np.sqrt(np.clip(values, 0.0, None)) / (2 * np.pi)
    return out


def photonic_bands(eps: np.ndarray, k_points: np.ndarray | None = None, num_bands: int = 6,
                   polarization: str = "tm", cutoff: float | None = None,
                   ) -> np.ndarray:  # fmt: skip
    r"""Photonic bands :math:`\omega_m(\mathbf{k})\, a / (2\pi c)` of a two-dimensional
    crystal with unit cell ``eps``, by the plane-wave expansion method.

    Fields are expanded in the plane waves :math:`e^{i(\mathbf{k} + \mathbf{G}) \cdot
    \mathbf{r}}` with :math:`|\mathbf{G}| \le 2\pi \cdot` ``cutoff`` (a disk, so the basis
    is invariant under the square's symmetries). :math:`[\varepsilon]` is the Toeplitz
    matrix :math:`[\varepsilon]_{\mathbf{G}\mathbf{G}'} = \hat\varepsilon(\mathbf{G} -
    \mathbf{G}')` of the Fourier coefficients of the pixel grid (its FFT). For TM
    polarisation (:math:`E_z`, the field along the rods)

    .. math::
        |\mathbf{k} + \mathbf{G}|^2\, E_{\mathbf{G}} = \Big(\frac{\omega}{c}\Big)^2
        \sum_{\mathbf{G}'} [\varepsilon]_{\mathbf{G}\mathbf{G}'} E_{\mathbf{G}'},

    a generalised Hermitian eigenproblem, solved as the standard one for
    :math:`D^{-1/2} [\varepsilon] D^{-1/2}`, :math:`D = \operatorname{diag}|\mathbf{k} +
    \mathbf{G}|^2` (the generalised form within :math:`|\mathbf{k} + \mathbf{G}| < 0.1/a`
    of :math:`\Gamma`). For TE polarisation
    (:math:`H_z`)

    .. math::
        \sum_{\mathbf{G}'} (\mathbf{k} + \mathbf{G}) \cdot (\mathbf{k} + \mathbf{G}')\,
        [\varepsilon]^{-1}_{\mathbf{G}\mathbf{G}'} H_{\mathbf{G}'}
        = \Big(\frac{\omega}{c}\Big)^2 H_{\mathbf{G}},

    with the inverse rule (Ho et al. 1990; Li 1996): the inverse of the Toeplitz matrix of
    :math:`\varepsilon`, which converges much faster than the coefficients of
    :math:`1/\varepsilon`. The Toeplitz matrix (and its inverse) is built once per cell; each
    :math:`\mathbf{k}` costs one Hermitian eigensolution of size :math:`N`
    (:func:`num_plane_waves`). A periodic translation of the cell leaves the bands
    unchanged, a rotation or reflection :math:`R` of the cell maps
    :math:`\omega_m(\mathbf{k})` to :math:`\omega_m(R\mathbf{k})`, and
    :math:`\varepsilon \to s\varepsilon` scales every frequency by :math:`1/\sqrt{s}`.

    Args:
        eps (numpy.ndarray): The unit cell, real, :math:`(n, n)`, :math:`n \ge 4`, finite and
            positive; pixel ``eps[i, j]`` is centred at :math:`((i + \frac12)/n,
            (j + \frac12)/n)`.
        k_points (numpy.ndarray, optional): Bloch vectors :math:`(K, 2)` in units of
            :math:`1/a`. (default: :obj:`None`, the Γ–X–M–Γ path :func:`k_path` ``()``)
        num_bands (int, optional): Bands per :math:`\mathbf{k}`, the lowest.
            (default: ``6``)
        polarization (str, optional): ``"tm"`` (:math:`E_z`) or ``"te"`` (:math:`H_z`).
            (default: ``"tm"``)
        cutoff (float, optional): Radius of the disk of :math:`\mathbf{G}` in units of
            :math:`2\pi/a`. The differences :math:`\mathbf{G} - \mathbf{G}'` must be resolved
            by the grid, :math:`4 \lfloor \mathrm{cutoff} \rfloor + 1 \le n` (cutoff < 8 on a
            32-pixel grid, 197 plane waves), and the matrices must fit in memory; else a
            ``ValueError``. (default: :obj:`None`, 7 (149 plane waves), or the largest
            integer the grid resolves if that is smaller)

    Returns:
        numpy.ndarray: float64 :math:`(K, \mathrm{num\_bands})`, ascending along each row.
    """
    eps = _check_cell(eps)
    k_points = _check_k_points(k_points)
    num_bands = check_positive_int(num_bands, "num_bands")
    polarization = _check_polarization(polarization)
    cutoff = _resolve_cutoff(cutoff, eps.shape[0])
    return _solve(eps, k_points, num_bands, polarization, cutoff)


def k_path(points_per_segment: int = 10) -> np.ndarray:
    r"""The Γ–X–M–Γ path around the irreducible Brillouin zone of the square lattice,
    :math:`\Gamma = (0, 0)`, :math:`X = (\pi, 0)`, :math:`M = (\pi, \pi)` (units of
    :math:`1/a`).

    Each segment holds ``points_per_segment`` evenly spaced points, its start included and
    its end left to the next segment, so no corner repeats; the final :math:`\Gamma` closes
    the path (the first and last rows are both :math:`\Gamma`). The distance along the
    path, for plotting, is ``np.r_[0, np.cumsum(np.linalg.norm(np.diff(k, axis=0),
    axis=1))]``.

    Args:
        points_per_segment (int, optional): Points per segment, :math:`\ge 1`.
            (default: ``10``)

    Returns:
        numpy.ndarray: float64 :math:`(3\,\mathrm{points\_per\_segment} + 1, 2)`.
    """
    m = check_positive_int(points_per_segment, "points_per_segment")
    corners = np.array([[0.0, 0.0], [np.pi, 0.0], [np.pi, np.pi], [0.0, 0.0]])
    t = (np.arange(m) / m)[:, None]
    segments = [start + t * (end - start) for start, end in itertools.pairwise(corners)]
    return np.concatenate([*segments, corners[-1:]])


@dataclass(frozen=True)
class BandGap:
    r"""The gap between bands :math:`m` and :math:`m + 1` over a set of Bloch vectors.

    Attributes:
        bottom (float): :math:`\max_{\mathbf{k}} \omega_m(\mathbf{k})`.
        top (float): :math:`\min_{\mathbf{k}} \omega_{m+1}(\mathbf{k})` (below ``bottom``
            when the bands overlap).
        width (float): :math:`\max(\mathrm{top} - \mathrm{bottom}, 0)`.
        ratio (float): The gap--midgap ratio :math:`\mathrm{width} / \frac12(\mathrm{top}
            + \mathrm{bottom})`, 0 when the bands overlap.
    """

    bottom: float
    top: float
    width: float
    ratio: float


def band_gap(bands: np.ndarray, band: int = 1) -> BandGap:
    r"""The gap between band ``band`` and band ``band + 1`` (1-based: ``band=1`` is the gap
    between the first and second bands), over all :math:`\mathbf{k}` of ``bands``.

    Args:
        bands (numpy.ndarray): :math:`(K, B)` frequencies, as from :func:`photonic_bands`,
            :math:`B \ge` ``band + 1``.
        band (int, optional): The lower band, :math:`\ge 1`. (default: ``1``)
    """
    band = check_int(band, "band", minimum=1)
    arr = np.asarray(bands)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise TypeError(f"bands must be a real array (K, B), got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < band + 1:
        raise ValueError(f"bands must be an array (K, B) with K >= 1 and B >= band + 1 = "
                         f"{band + 1}, got shape {arr.shape}")  # fmt: skip
    if not np.isfinite(arr).all():
        raise ValueError("bands must be finite, found NaN or inf")
    bottom = float(arr[:, band - 1].max())
    top = float(arr[:, band].min())
    width = max(top - bottom, 0.0)
    mid = 0.5 * (top + bottom)
    return BandGap(bottom, top, width, width / mid if width > 0 else 0.0)
