r"""The sign structure of a frustrated magnet's ground state as a dataset of spin images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from .._spins import check_cluster, check_couplings
from ..magnets import canonical_states, heisenberg_ground_state, marshall_sign
from ..pool import dilated_edge_key
from .batching import equal_size_batch
from .lattice import lattice_graph
from .simulated import SimulatedDataset

__all__ = ["HELD_OUT_ORBIT_SHARE", "HeisenbergSigns", "held_out_orbits", "spin_batch"]

# Bumped whenever the processed content changes meaning.
_DATASET_VERSION = 1
_SPLITS = ("train", "test", "unseen")
_HOLDOUTS = ("state", "orbit")
#: Share of the symmetry orbits held out as the test set of ``holdout="orbit"``.
HELD_OUT_ORBIT_SHARE = 0.5


def held_out_orbits(canonical: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Whether each orbit (named by its canonical state) is a test orbit of
    ``holdout="orbit"``: a random :data:`HELD_OUT_ORBIT_SHARE` of the orbits of the cluster,
    drawn once per shape, so the same for every coupling, fraction and seed."""
    shape = check_cluster(shape)
    canonical = np.asarray(canonical)
    if not np.issubdtype(canonical.dtype, np.integer):
        raise TypeError(f"canonical must be integer states (sgnn.magnets.canonical_states), "
                        f"got dtype {canonical.dtype}")  # fmt: skip
    names = np.unique(canonical)
    rng = np.random.default_rng(np.random.SeedSequence([0x0B17, *shape]))
    held = names[rng.permutation(len(names))[: round(HELD_OUT_ORBIT_SHARE * len(names))]]
    return np.isin(canonical, held)


@lru_cache(maxsize=64)
def _periodic_edges(shape: tuple[int, int], dilation: int) -> Tensor:
    return lattice_graph(shape, "periodic", dilation=dilation)[0]


def spin_batch(spins: Tensor, shape: tuple[int, int], dilations: Sequence[int] = (1,),
               dtype: torch.dtype = torch.float32, **fields: Any) -> Batch:  # fmt: skip
    r"""Spin images as one :class:`~torch_geometric.data.Batch` of periodic lattice graphs.

    Built in a few tensor operations (:func:`~sgnn.data.equal_size_batch`): ``x`` holds
    the spins, :math:`(B H W, 1)`, ``edge_index`` the periodic lattice
    (:func:`~sgnn.data.lattice_graph`) and, for every dilation :math:`d > 1`, the dilated
    periodic edges under :func:`~sgnn.pool.dilated_edge_key` ``(d)``, which
    :class:`~sgnn.nn.LatticeGNN` reads; ``lattice_shape`` is set per graph.

    Args:
        spins (torch.Tensor): :math:`(B, H W)` or :math:`(B, H, W)`, any real or integer dtype.
        shape (tuple[int, int]): :math:`(H, W)`.
        dilations (Sequence[int], optional): Edge sets to attach. (default: ``(1,)``)
        dtype (torch.dtype, optional): Of ``x``. (default: ``torch.float32``)
        **fields: Further per-graph attributes, stored as given.
    """
    h, w = check_cluster(shape)
    if not isinstance(spins, Tensor) or spins.dim() not in (2, 3):
        raise ValueError(f"spins must be a tensor of shape (B, {h * w}) or (B, {h}, {w})")
    b = spins.size(0)
    if b == 0 or spins[0].numel() != h * w:
        raise ValueError(f"spins must hold at least one state of {h * w} entries for shape "
                         f"{(h, w)}, got shape {tuple(spins.shape)}")  # fmt: skip
    extra = {dilated_edge_key(d): _periodic_edges((h, w), int(d)) for d in dilations if d > 1}
    return equal_size_batch(b, h * w,
                            _periodic_edges((h, w), 1), edge_indices=extra,
                            x=spins.reshape(-1, 1).to(dtype),
                            lattice_shape=torch.tensor([[h, w]]).expand(b, 2),
                            **fields)  # fmt: skip


class HeisenbergSigns(SimulatedDataset):
    r"""Basis states of the :math:`J_1`--:math:`J_2` Heisenberg ground state with their signs.

    The ground state :math:`\psi` of the periodic :math:`H \times W` cluster in the
    :math:`S^z = 0` sector (:func:`~sgnn.magnets.heisenberg_ground_state`, cached under
    ``root``) is written in the basis of :math:`S^z` eigenstates :math:`\sigma`. The
    ``"train"`` split is a fraction :math:`\varepsilon` of the basis, :math:`\max(1,
    \operatorname{round}(\varepsilon \binom{N}{N/2}))` distinct states drawn without
    replacement with probability :math:`\propto |\psi(\sigma)|^2` (Westerhout et al., 2020);
    the ``"test"`` split is every other state. Each item is a graph on the periodic lattice
    (:func:`~sgnn.data.lattice_graph`): ``x`` the spin image :math:`\pm 1` of shape
    :math:`(N, 1)`, ``y`` the class of the sign (1 for :math:`\psi(\sigma) > 0`, else 0),
    ``sign`` (:math:`\pm 1`, 0 where :math:`\psi` vanishes), ``weight``
    :math:`|\psi(\sigma)|^2`, ``state`` the basis state's bit string and ``lattice_shape``.
    :meth:`lattice_batch` builds batches of many states at once.

    Files are cached under ``root``, named by every parameter, and written atomically.

    Args:
        root (str): Cache directory.
        shape (tuple[int, int], optional): :math:`(H, W)`. (default: ``(4, 4)``)
        j2 (float, optional): Next-nearest coupling. (default: ``0.0``)
        j1 (float, optional): Nearest-neighbour coupling. (default: ``1.0``)
        fraction (float, optional): :math:`\varepsilon \in (0, 1)`. (default: ``0.01``)
        split (str, optional): ``"train"``, ``"test"`` or ``"unseen"``.
            (default: ``"train"``)
        holdout (str, optional): ``"state"`` or ``"orbit"``, see above.
            (default: ``"state"``)
        seed (int, optional): Seed of the draw; both splits of one seed are disjoint.
            (default: ``0``)
        marshall_rotated (bool, optional): Store the Marshall-rotated sign.
            (default: :obj:`False`)
        transform (Callable, optional): As in PyG, applied on access.
        progress (bool, optional): Progress bars of the diagonalisation (``None``: on a
            terminal). (default: :obj:`None`)
        force_reload (bool, optional): Regenerate. (default: :obj:`False`)
    """

    def __init__(
        self,
        root: str,
        shape: tuple[int, int] = (4, 4),
        j2: float = 0.0,
        j1: float = 1.0,
        fraction: float = 0.01,
        split: str = "train",
        holdout: str = "state",
        seed: int = 0,
        marshall_rotated: bool = False,
        transform: Callable[[Data], Data] | None = None,
        progress: bool | None = None,
        force_reload: bool = False,
    ) -> None:
        self.shape = check_cluster(shape)
        self.j1, self.j2 = check_couplings(j1, j2)
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise TypeError(f"fraction must be a float in (0, 1), got {fraction!r}")
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must be a float in (0, 1), got {fraction!r}")
        if split not in _SPLITS:
            raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
        if holdout not in _HOLDOUTS:
            raise ValueError(f"holdout must be one of {_HOLDOUTS}, got {holdout!r}")
        self.holdout = holdout
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.fraction, self.split, self.seed = float(fraction), split, int(seed)
        self.marshall_rotated = bool(marshall_rotated)
        self.progress = progress
        super().__init__(root, transform, None, log=False, force_reload=force_reload)
        self._load_cache(self.processed_paths[0])
        store = self._data
        self.spins: Tensor = store.spins  # (M, N) int8
        self.sign: Tensor = store.sign  # (M,) int8
        self.weight: Tensor = store.weight  # (M,) float64
        self.state: Tensor = store.state  # (M,) int64
        self.edge_index = _periodic_edges(self.shape, 1)

    @property
    def num_sites(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def processed_file_names(self) -> str:
        h, w = self.shape
        rotated = "_marshall" if self.marshall_rotated else ""
        split = "unseen" if self.split == "test" and self.holdout == "state" else self.split
        return (f"heisenberg_{split}_{self.holdout}_{h}x{w}_j1={self.j1!r}_j2={self.j2!r}"
                f"_frac{self.fraction!r}_seed{self.seed}{rotated}"
                f"_v{_DATASET_VERSION}.pt")  # fmt: skip

    def process(self) -> None:
        gs = heisenberg_ground_state(self.shape, self.j1, self.j2, root=self.root,
                                     progress=self.progress)  # fmt: skip
        prob = gs.probabilities
        dim = prob.shape[0]
        count = max(1, round(self.fraction * dim))
        # Gumbel top-k: the first k of a draw without replacement with P ~ |psi|^2.
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x5E1F]))
        with np.errstate(divide="ignore"):
            keys = np.log(prob) + rng.gumbel(size=dim)
        held = (held_out_orbits(canonical_states(gs.states, self.shape), self.shape)
                if self.holdout == "orbit" else np.zeros(dim, dtype=bool))  # fmt: skip
        if self.holdout == "orbit" and self.split == "test":
            index = np.flatnonzero(held)
        else:
            keys[held] = -np.inf  # never drawn; the count stays a fraction of the basis
            count = min(count, dim - int(held.sum()))
            train = np.sort(np.argpartition(-keys, count - 1)[:count])
            if self.split == "train":
                index = train
            else:
                keep = np.ones(dim, dtype=bool)
                keep[train] = False
                index = np.flatnonzero(keep)
        spins = gs.spins(index).reshape(len(index), -1)
        sign = gs.signs[index]
        if self.marshall_rotated:
            sign = sign * marshall_sign(gs.states[index], self.shape)
        store = Data(spins=torch.from_numpy(spins),
                     sign=torch.from_numpy(sign),
                     weight=torch.from_numpy(prob[index]),
                     state=torch.from_numpy(gs.states[index]))  # fmt: skip
        self._save_atomically([store], self.processed_paths[0])

    def len(self) -> int:
        return self.spins.size(0)

    def get(self, idx: int) -> Data:
        return Data(x=self.spins[idx].view(-1, 1).float(), edge_index=self.edge_index,
                    y=(self.sign[idx : idx + 1] > 0).long(), sign=self.sign[idx : idx + 1],
                    weight=self.weight[idx : idx + 1], state=self.state[idx : idx + 1],
                    lattice_shape=torch.tensor([self.shape]))  # fmt: skip

    def lattice_batch(self, index: Tensor | Sequence[int] | None = None,
                      dilations: Sequence[int] = (1,), dtype: torch.dtype = torch.float32,
                      ) -> Batch:  # fmt: skip
        """The items ``index`` (default: all) as one batch (:func:`spin_batch`), with
        ``y``, ``sign``, ``weight`` and ``state`` per graph."""
        index = (torch.arange(len(self)) if index is None
                 else torch.as_tensor(index, dtype=torch.long).view(-1))  # fmt: skip
        sign = self.sign[index]
        return spin_batch(
            self.spins[index],
            self.shape,
            dilations,
            dtype,
            y=(sign > 0).long(),
            sign=sign,
            weight=self.weight[index],
            state=self.state[index],
        )

    def __repr__(self) -> str:
        h, w = self.shape
        return (f"{type(self).__name__}({len(self)}, shape=({h}, {w}), j2={self.j2}, "
                f"fraction={self.fraction}, split={self.split!r}, holdout={self.holdout!r}, "
                f"seed={self.seed}"
                + (", marshall_rotated=True)" if self.marshall_rotated else ")"))  # fmt: skip
