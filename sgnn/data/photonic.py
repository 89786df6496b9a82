r"""Photonic crystals as periodic lattice graphs: random unit cells labelled by their
band structure (:class:`PhotonicCrystals`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from .._checks import check_int, check_number
from ..photonics import band_structures, random_cells
from .lattice import lattice_graph
from .simulated import SimulatedDataset

__all__ = ["PhotonicCrystals", "cell_to_data"]

#: Bumped whenever the generated content changes meaning.
_GENERATOR_VERSION = 1


def cell_to_data(eps: Any, targets: dict[str, Any] | None = None) -> Data:
    r"""A unit cell of permittivities as a periodic lattice graph.

    Node :math:`i` is pixel ``(i // n, i % n)`` of the :math:`n \times n` cell, with
    feature ``x`` the relative permittivity :math:`\varepsilon` (float32,
    :math:`(n^2, 1)`); ``edge_index`` joins nearest neighbours with periodic
    boundaries (:func:`lattice_graph`), as the crystal repeats the cell;
    ``lattice_shape`` is ``[[n, n]]``. ``targets`` (name: tensor or array) are stored
    as given, float32.

    Args:
        eps (array_like): The cell, real, finite and positive, shape :math:`(n, n)`.
        targets (dict, optional): Extra fields. (default: :obj:`None`)
    """
    arr = np.asarray(eps, dtype=np.float64) if not isinstance(eps, torch.Tensor) else (
        eps.detach().cpu().numpy().astype(np.float64))  # fmt: skip
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 2:
        raise ValueError(f"eps must be a square unit cell (n, n) with n >= 2, got shape "
                         f"{arr.shape}")  # fmt: skip
    if not np.isfinite(arr).all() or arr.min() <= 0:
        raise ValueError("eps must hold finite, strictly positive permittivities")
    n = arr.shape[0]
    edge_index, _ = lattice_graph((n, n), "periodic")
    data = Data(x=torch.from_numpy(arr.reshape(-1, 1)).float(), edge_index=edge_index,
                lattice_shape=torch.tensor([[n, n]]))  # fmt: skip
    for name, value in (targets or {}).items():
        data[name] = torch.as_tensor(np.asarray(value)).float()
    return data


class PhotonicCrystals(SimulatedDataset):
    r"""Random two-phase unit cells of 2-D photonic crystals and their TM band structure.

    Cells come from :func:`~sgnn.photonics.random_cells`: level sets of smooth random
    periodic fields (Fourier modes up to ``max_order``), thresholded at a fill fraction
    drawn uniformly from ``fill_range``; the filled phase has a permittivity drawn
    uniformly from ``eps_range``, the other is air (:math:`\varepsilon = 1`), as in the
    data-scarce photonic-crystal literature. Each is solved by plane-wave expansion
    (:func:`~sgnn.photonics.band_structures`, TM polarisation, ``cutoff``, the
    Γ–X–M–Γ path with ``points_per_segment`` Bloch vectors per segment). A sample is a
    :func:`cell_to_data` graph with

    =================  ===================================================================
    field              content
    =================  ===================================================================
    ``x``              :math:`(n^2, 1)` permittivity of each pixel
    ``edge_index``     periodic nearest-neighbour lattice
    ``lattice_shape``  ``[[n, n]]``
    ``y``              :math:`(1,)` the gap--midgap ratio between TM bands 1 and 2 (0 when
                       they overlap)
    ``bands``          :math:`(1, K, B)` the lowest ``num_bands`` TM bands,
                       :math:`\omega a / 2\pi c`, at the :math:`K` Bloch vectors
    =================  ===================================================================

    Cell :math:`i` is drawn from the :math:`i`-th child of ``SeedSequence(seed)``, so a
    dataset is the same however it is generated, and a larger one extends a smaller
    one of the same seed. The processed file is named by every parameter and written
    atomically; the band structures are solved in ``num_workers`` processes (see
    :func:`~sgnn.photonics.band_structures`; use it under
    ``if __name__ == "__main__":`` in a script).

    Args:
        root (str): Cache directory.
        num_cells (int): Number of cells.
        side (int, optional): Pixels per side :math:`n`. (default: ``32``)
        seed (int, optional): Seed of the cells. (default: ``0``)
        fill_range (tuple[float, float], optional): Range of the filled fraction.
            (default: ``(0.05, 0.3)``: isolated dielectric features, of which about 30 %
            open a TM gap between bands 1 and 2)
        eps_range (tuple[float, float], optional): Range of the filled phase's
            permittivity. (default: ``(1.0, 20.0)``)
        max_order (int, optional): Highest Fourier order of the random fields.
            (default: ``2``)
        cutoff (float, optional): Plane-wave cutoff. (default: ``5.0``, 81 plane waves;
            the rod lattice's gap is then within 0.001 of its converged value)
        num_bands (int, optional): Bands stored. (default: ``4``)
        points_per_segment (int, optional): Bloch vectors per segment of the path.
            (default: ``6``)
        num_workers (int, optional): Processes solving the cells. (default:
            :obj:`None`, as in :func:`~sgnn.photonics.band_structures`)
        transform, pre_transform (Callable, optional): As in PyG.
        log (bool, optional): PyG's messages. (default: :obj:`False`)
        force_reload (bool, optional): Regenerate. (default: :obj:`False`)
    """

    def __init__(
        self,
        root: str,
        num_cells: int,
        side: int = 32,
        seed: int = 0,
        fill_range: Sequence[float] = (0.05, 0.3),
        eps_range: Sequence[float] = (1.0, 20.0),
        max_order: int = 2,
        cutoff: float = 5.0,
        num_bands: int = 4,
        points_per_segment: int = 6,
        num_workers: int | None = None,
        transform: Callable[[Data], Data] | None = None,
        pre_transform: Callable[[Data], Data] | None = None,
        log: bool = False,
        force_reload: bool = False,
    ) -> None:
        self.num_cells = check_int(num_cells, "num_cells", 1)
        self.side = check_int(side, "side", 4)
        self.seed = check_int(seed, "seed", 0)
        # the ranges are checked by random_cells; stored as floats for the file name
        self.fill_range = tuple(float(v) for v in fill_range)
        self.eps_range = tuple(float(v) for v in eps_range)
        self.max_order = check_int(max_order, "max_order", 1)
        self.cutoff = check_number(cutoff, "cutoff", strict=True)
        self.num_bands = check_int(num_bands, "num_bands", 2)
        self.points_per_segment = check_int(points_per_segment, "points_per_segment", 1)
        self.num_workers = num_workers
        super().__init__(root, transform, pre_transform, log=log, force_reload=force_reload)
        self._load_cache(self.processed_paths[0])

    @property
    def processed_file_names(self) -> str:
        name = (f"photonic_n{self.num_cells}_side{self.side}_seed{self.seed}"
                f"_fill{self.fill_range[0]:g}-{self.fill_range[1]:g}"
                f"_eps{self.eps_range[0]:g}-{self.eps_range[1]:g}_order{self.max_order}"
                f"_cut{self.cutoff:g}_bands{self.num_bands}_path{self.points_per_segment}"
                f"_v{_GENERATOR_VERSION}")  # fmt: skip
        return name + self._pre_transform_tag() + ".pt"

    def cells(self) -> np.ndarray:
        """The unit cells, float64 :math:`(N, n, n)`, one seed per cell."""
        children = np.random.SeedSequence(self.seed).spawn(self.num_cells)
        return np.concatenate([
            random_cells(1, self.side, np.random.default_rng(child), self.fill_range,
                         self.eps_range, self.max_order) for child in children])  # fmt: skip

    def process(self) -> None:
        cells = self.cells()
        solved = band_structures(
            cells, num_bands=self.num_bands, cutoff=self.cutoff,
            points_per_segment=self.points_per_segment, num_workers=self.num_workers,
            progress=self.log or None)  # fmt: skip
        data_list = []
        for cell, bands, ratio in zip(cells, solved.bands, solved.gap_ratios, strict=True):
            data = cell_to_data(cell, {"y": [ratio], "bands": bands[None]})
            data_list.append(self.pre_transform(data) if self.pre_transform else data)
        self._save_atomically(data_list, self.processed_paths[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)}, side={self.side}, seed={self.seed})"
