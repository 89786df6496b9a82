r"""Exact ground states of the spin-1/2 :math:`J_1`--:math:`J_2` Heisenberg model on periodic
square clusters, in the :math:`S^z = 0` sector."""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse
from scipy.sparse.linalg import LinearOperator, eigsh
from tqdm.auto import tqdm

from .._checks import check_int_pair, check_lattice_shape
from .._io import atomic_write, check_cache_root
from .._memory import check_fits
from .._progress import tqdm_disable
from .._spins import MAX_SITES
from .._spins import check_cluster as _check_cluster
from .._spins import check_couplings as _check_couplings
from . import _kernels

__all__ = [
    "GroundState",
    "heisenberg_bonds",
    "heisenberg_ground_state",
    "heisenberg_hamiltonian",
    "lattice_translation",
    "marshall_sign",
    "state_spins",
    "symmetry_eigenvalue",
    "sz_zero_basis",
]

#: Bumped whenever the cached content changes meaning.
_CACHE_VERSION = 1
#: Rows per chunk while building the Hamiltonian (the progress bar's step).
_ROW_CHUNK = 1 << 18


def heisenberg_bonds(shape: tuple[int, int], j1: float = 1.0, j2: float = 0.0,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    r"""The couplings of :math:`H = J_1 \sum_{\langle ij \rangle} \mathbf{S}_i \cdot
    \mathbf{S}_j + J_2 \sum_{\langle\langle ij \rangle\rangle} \mathbf{S}_i \cdot \mathbf{S}_j`.

    Site :math:`(r, c)` of the periodic :math:`H \times W` cluster is ``r * W + c``, as in
    :func:`~sgnn.data.lattice_graph`. The sums run over every site and the bond
    directions :math:`(0, 1), (1, 0)` (:math:`J_1`) and :math:`(1, 1), (1, -1)`
    (:math:`J_2`), the form of the infinite lattice; on a side of length 2 a wrapped bond
    therefore coincides with a direct one, and their couplings add. Bonds with coupling 0
    are left out.

    Returns:
        (numpy.ndarray, numpy.ndarray, numpy.ndarray): ``site_i < site_j`` (int64) and the
        coupling of each distinct bond (float64).
    """
    h, w = _check_cluster(shape)
    j1, j2 = _check_couplings(j1, j2)
    total: dict[tuple[int, int], float] = {}
    for coupling, directions in ((j1, ((0, 1), (1, 0))), (j2, ((1, 1), (1, -1)))):
        if coupling == 0.0:
            continue
        for r in range(h):
            for c in range(w):
                for dr, dc in directions:
                    a, b = r * w + c, ((r + dr) % h) * w + (c + dc) % w
                    key = (min(a, b), max(a, b))
                    total[key] = total.get(key, 0.0) + coupling
    keys = sorted(k for k, v in total.items() if v != 0.0)
    site_i = np.array([k[0] for k in keys], dtype=np.int64)
    site_j = np.array([k[1] for k in keys], dtype=np.int64)
    return site_i, site_j, np.array([total[k] for k in keys], dtype=np.float64)


def sz_zero_basis(num_sites: int) -> np.ndarray:
    r"""The :math:`S^z = 0` basis of ``num_sites`` spins: every bit string with
    ``num_sites / 2`` set bits (bit :math:`i` set = spin :math:`i` up), increasing.

    Returns:
        numpy.ndarray: int64, :math:`\binom{N}{N/2}` states.
    """
    if isinstance(num_sites, bool) or not isinstance(num_sites, (int, np.integer)):
        raise TypeError(f"num_sites must be an int, got {num_sites!r}")
    if num_sites < 2 or num_sites % 2 or num_sites > MAX_SITES:
        raise ValueError(f"num_sites must be even, between 2 and {MAX_SITES}, got {num_sites}")
    return _kernels.fixed_weight_states(int(num_sites), int(num_sites) // 2)


def _memory_estimate(num_sites: int, num_bonds: int) -> int:
    dim = math.comb(num_sites, num_sites // 2)
    # CSR entries (about half the bonds are antiparallel; 12 bytes each), the lookup table,
    # and ARPACK's ~30 Lanczos vectors.
    return dim * ((num_bonds // 2 + 1) * 12 + 30 * 8 + 8) + 4 * 2**num_sites


class _Hamiltonian:
    """The Hamiltonian on the :math:`S^z = 0` basis as a diagonal plus a CSR matrix."""

    def __init__(self, shape: tuple[int, int], j1: float, j2: float,
                 progress: bool | None) -> None:  # fmt: skip
        h, w = _check_cluster(shape)
        site_i, site_j, coupling = heisenberg_bonds((h, w), j1, j2)
        n = h * w
        check_fits(_memory_estimate(n, len(coupling)), "shape",
                   f"exact diagonalisation of {n} spins")  # fmt: skip
        self.states = sz_zero_basis(n)
        self.lookup = _kernels.state_lookup(self.states, n)
        dim = self.states.shape[0]
        self.diagonal = np.empty(dim)
        counts = np.empty(dim, dtype=np.int64)
        chunks = range(0, dim, _ROW_CHUNK)
        with tqdm(total=2 * dim, desc=f"Hamiltonian {h}x{w}", unit="row", unit_scale=True,
                  leave=False, disable=tqdm_disable(progress)) as bar:  # fmt: skip
            for start in chunks:
                stop = min(start + _ROW_CHUNK, dim)
                _kernels.diagonal_and_row_counts(self.states, site_i, site_j, coupling,
                                                 start, stop, self.diagonal, counts)  # fmt: skip
                bar.update(stop - start)
            self.indptr = np.zeros(dim + 1, dtype=np.int64)
            np.cumsum(counts, out=self.indptr[1:])
            nnz = int(self.indptr[-1])
            index_dtype = np.int32 if dim < 2**31 else np.int64
            self.indices = np.empty(nnz, dtype=index_dtype)
            self.data = np.empty(nnz, dtype=np.float64)
            for start in chunks:
                stop = min(start + _ROW_CHUNK, dim)
                _kernels.fill_rows(self.states, self.lookup, site_i, site_j, coupling, start,
                                   stop, self.indptr, self.indices, self.data)  # fmt: skip
                bar.update(stop - start)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        return _kernels.symmetric_matvec(self.diagonal, self.indptr, self.indices, self.data, x)

    def csr(self) -> scipy.sparse.csr_matrix:
        dim = self.diagonal.shape[0]
        off = scipy.sparse.csr_matrix((self.data, self.indices, self.indptr), shape=(dim, dim))
        return (off + scipy.sparse.diags(self.diagonal)).tocsr()


def heisenberg_hamiltonian(shape: tuple[int, int], j1: float = 1.0, j2: float = 0.0,
                           progress: bool | None = None) -> scipy.sparse.csr_matrix:  # fmt: skip
    r"""The Hamiltonian of :func:`heisenberg_bonds` on the :math:`S^z = 0` basis
    (:func:`sz_zero_basis`), as a sparse matrix.

    .. math::
        H = \sum_b J_b \Big( S^z_{i_b} S^z_{j_b} + \tfrac12 \big(S^+_{i_b} S^-_{j_b}
            + S^-_{i_b} S^+_{j_b}\big) \Big)

    Args:
        shape (tuple[int, int]): :math:`(H, W)`, both :math:`\ge 2`, :math:`HW` even.
        j1 (float, optional): Nearest-neighbour coupling. (default: ``1.0``)
        j2 (float, optional): Next-nearest (diagonal) coupling. (default: ``0.0``)
        progress (bool, optional): ``None`` shows a progress bar on a terminal,
            ``True`` always, ``False`` never. (default: :obj:`None`)
    """
    j1, j2 = _check_couplings(j1, j2)
    return _Hamiltonian(shape, j1, j2, progress).csr()


@dataclass(frozen=True)
class GroundState:
    r"""The ground state :math:`\psi` of the :math:`S^z = 0` sector on a periodic cluster.

    Attributes:
        shape (tuple[int, int]): :math:`(H, W)`.
        j1 (float): Nearest-neighbour coupling.
        j2 (float): Next-nearest coupling.
        energy (float): :math:`E_0`.
        gap (float): :math:`E_1 - E_0` to the next level of the sector (a gap near zero
            means the signs of :math:`\psi` are not defined by :math:`H` alone).
        states (numpy.ndarray): The basis (:func:`sz_zero_basis`), int64.
        amplitudes (numpy.ndarray): :math:`\psi(\sigma)`, float64, normalised; the global
            sign makes the first state of largest :math:`|\psi|` positive.
    """

    shape: tuple[int, int]
    j1: float
    j2: float
    energy: float
    gap: float
    states: np.ndarray
    amplitudes: np.ndarray

    @property
    def num_sites(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def signs(self) -> np.ndarray:
        """:math:`\\operatorname{sign} \\psi(\\sigma)` as int8 (0 where :math:`\\psi` vanishes)."""
        return np.sign(self.amplitudes).astype(np.int8)

    @property
    def probabilities(self) -> np.ndarray:
        """:math:`|\\psi(\\sigma)|^2`, summing to 1."""
        return self.amplitudes**2

    def spins(self, index: np.ndarray | slice | None = None) -> np.ndarray:
        """The states (all, or ``states[index]``) as :math:`\\pm 1` images, see
        :func:`state_spins`."""
        states = self.states if index is None else self.states[index]
        return state_spins(states, self.shape)


def _fix_global_sign(psi: np.ndarray) -> np.ndarray:
    # The first state within 1e-6 of the largest |psi|: ties between symmetry-related
    # states are broken by index, not by Lanczos round-off.
    mag = np.abs(psi)
    first = int(np.flatnonzero(mag >= (1 - 1e-6) * mag.max())[0])
    return psi if psi[first] > 0 else -psi


def _cache_path(root: str | os.PathLike[str], shape: tuple[int, int], j1: float,
                j2: float) -> Path:  # fmt: skip
    # repr round-trips floats exactly: 0.55 and 0.55000000001 are different files.
    name = (f"ground_state_{shape[0]}x{shape[1]}_j1={j1!r}_j2={j2!r}"
            f"_v{_CACHE_VERSION}.npz")  # fmt: skip
    return Path(root) / "heisenberg" / name


def _load_cached(path: Path, shape: tuple[int, int], j1: float, j2: float) -> GroundState | None:
    try:
        with np.load(path) as f:
            energy, gap = float(f["energy"]), float(f["gap"])
            amplitudes = f["amplitudes"]
    except (OSError, ValueError, KeyError, EOFError) as err:
        warnings.warn(f"ground-state cache {path} is unreadable ({type(err).__name__}); "
                      f"recomputing it", RuntimeWarning, stacklevel=3)  # fmt: skip
        return None
    states = sz_zero_basis(shape[0] * shape[1])
    if amplitudes.shape != states.shape:
        warnings.warn(f"ground-state cache {path} has the wrong length; recomputing it",
                      RuntimeWarning, stacklevel=3)  # fmt: skip
        return None
    return GroundState(shape, j1, j2, energy, gap, states, amplitudes)


def heisenberg_ground_state(shape: tuple[int, int], j1: float = 1.0, j2: float = 0.0,
                            root: str | os.PathLike[str] | None = None, tol: float = 1e-10,
                            seed: int = 0, progress: bool | None = None,
                            ) -> GroundState:  # fmt: skip
    r"""Exact ground state of the :math:`J_1`--:math:`J_2` Heisenberg antiferromagnet on the
    periodic :math:`H \times W` cluster, :math:`S^z = 0` sector (:func:`heisenberg_hamiltonian`).

    Lanczos (:func:`scipy.sparse.linalg.eigsh`, the two lowest levels) on the Hamiltonian
    stored once in CSR form; the product runs on every core through numba. 24 spins
    (:math:`\binom{24}{12} = 2\,704\,156` states) need about 3 GiB.

    Args:
        shape (tuple[int, int]): :math:`(H, W)`, both :math:`\ge 2`, :math:`HW` even,
            at most 30 sites.
        j1 (float, optional): Nearest-neighbour coupling. (default: ``1.0``)
        j2 (float, optional): Next-nearest coupling. (default: ``0.0``)
        root (str, optional): Folder of an atomically written cache, keyed by the shape and
            the exact couplings. (default: :obj:`None`, no cache)
        tol (float, optional): ARPACK's relative tolerance on the eigenvalues.
            (default: ``1e-10``)
        seed (int, optional): Seed of the Lanczos start vector. (default: ``0``)
        progress (bool, optional): ``None`` shows progress bars on a terminal,
            ``True`` always, ``False`` never. (default: :obj:`None`)
    """
    shape = _check_cluster(shape)
    j1, j2 = _check_couplings(j1, j2)
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise ValueError(f"tol must be a float in (0, 1), got {tol!r}")
    path = None if root is None else _cache_path(check_cache_root(root, "root"), shape, j1, j2)
    if path is not None and path.exists():
        cached = _load_cached(path, shape, j1, j2)
        if cached is not None:
            return cached
    ham = _Hamiltonian(shape, j1, j2, progress)
    dim = ham.states.shape[0]
    if dim < 16:  # too small for ARPACK's Krylov space: diagonalise densely
        values, vectors = np.linalg.eigh(ham.csr().toarray())
    else:
        bar = tqdm(desc=f"Lanczos {shape[0]}x{shape[1]}", unit="matvec", leave=False,
                   disable=tqdm_disable(progress))  # fmt: skip

        def matvec(x: np.ndarray) -> np.ndarray:
            bar.update()
            return ham.matvec(x)

        op = LinearOperator((dim, dim), matvec=matvec, dtype=np.float64)
        v0 = np.random.default_rng(seed).standard_normal(dim)
        with bar:
            values, vectors = eigsh(op, k=2, which="SA", v0=v0, tol=tol,
                                    ncv=min(dim, 24))  # fmt: skip
    order = np.argsort(values)
    energy, gap = float(values[order[0]]), float(values[order[1]] - values[order[0]])
    psi = vectors[:, order[0]]
    psi = _fix_global_sign(psi / np.linalg.norm(psi))
    if gap < 1e-8 * max(1.0, abs(energy)):
        warnings.warn(f"the ground state of {shape} at j1={j1}, j2={j2} is degenerate within "
                      f"the S^z = 0 sector (gap {gap:.2e}); its signs depend on the Lanczos "
                      f"start vector", RuntimeWarning, stacklevel=2)  # fmt: skip
    state = GroundState(shape, j1, j2, energy, gap, ham.states, psi)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: _save(tmp, state))
    return state


def _save(tmp: str, state: GroundState) -> None:
    with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a name
        np.savez(f, energy=state.energy, gap=state.gap, amplitudes=state.amplitudes)


def _sites_of(states: np.ndarray, num_sites: int) -> np.ndarray:
    states = np.asarray(states)
    if states.dtype.kind not in "iu":
        raise TypeError(f"states must be an integer array, got dtype {states.dtype}")
    if states.size and (states.min() < 0 or states.max() >= 1 << num_sites):
        raise ValueError(f"states must be bit strings of {num_sites} sites, in [0, 2**{num_sites})")
    return (states[..., None] >> np.arange(num_sites)) & 1


def state_spins(states: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    r"""Basis states as spin images: bit :math:`rW + c` of a state is :math:`+1` (up) or
    :math:`-1` (down) at pixel :math:`(r, c)`.

    Returns:
        numpy.ndarray: int8 of shape ``states.shape + (H, W)``.
    """
    h, w = check_lattice_shape(shape)
    bits = _sites_of(states, h * w)
    return (2 * bits - 1).astype(np.int8).reshape(*np.shape(states), h, w)


def marshall_sign(states: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    r"""Marshall's sign :math:`(-1)^{N_\uparrow(A)}`, :math:`N_\uparrow(A)` the number of up
    spins on the sublattice :math:`A = \{(r, c) : r + c \text{ even}\}`.

    On a bipartite cluster (both sides even) at :math:`J_2 = 0` the ground state's signs
    are exactly these, up to a global sign (Marshall 1955); multiplying a target by it
    (the "Marshall-rotated" sign) removes that part of the sign structure.

    Returns:
        numpy.ndarray: int8, :math:`\pm 1`, of shape ``states.shape``.
    """
    h, w = check_lattice_shape(shape)
    bits = _sites_of(states, h * w)
    r, c = np.divmod(np.arange(h * w), w)
    up_on_a = (bits & ((r + c) % 2 == 0)).sum(axis=-1)
    return (1 - 2 * (up_on_a % 2)).astype(np.int8)


def lattice_translation(shape: tuple[int, int], shift: tuple[int, int]) -> np.ndarray:
    r"""The site permutation of a periodic translation: site :math:`(r, c)` goes to
    :math:`(r + \Delta r, c + \Delta c)` mod the sides.

    Args:
        shape (tuple[int, int]): :math:`(H, W)`.
        shift (tuple[int, int]): :math:`(\Delta r, \Delta c)`, ints (a ``TypeError``
            otherwise: a fractional shift is no lattice symmetry).

    Returns:
        numpy.ndarray: int64 ``perm`` with ``perm[i]`` the site that site ``i`` moves to.
    """
    h, w = check_lattice_shape(shape)
    dr, dc = check_int_pair(shift, "shift", "a pair (dr, dc) of ints")
    r, c = np.divmod(np.arange(h * w), w)
    return ((r + dr) % h) * w + (c + dc) % w


def symmetry_eigenvalue(state: GroundState, perm: np.ndarray) -> float:
    r""":math:`\langle \psi | P | \psi \rangle` for the site permutation ``perm``
    (``perm[i]``: where the spin of site ``i`` goes).

    For a symmetry of the Hamiltonian and a non-degenerate :math:`\psi` this is
    :math:`\pm 1`: :math:`-1` means :math:`\psi(P\sigma) = -\psi(\sigma)`, a sign that no
    model invariant under :math:`P` can represent.
    """
    perm = np.asarray(perm, dtype=np.int64)
    n = state.num_sites
    if perm.shape != (n,) or not np.array_equal(np.sort(perm), np.arange(n)):
        raise ValueError(f"perm must be a permutation of the {n} sites, got shape {perm.shape}")
    lookup = _kernels.state_lookup(state.states, n)
    moved = _kernels.permute_states(state.states, lookup, perm)
    return float(np.dot(state.amplitudes[moved], state.amplitudes))
