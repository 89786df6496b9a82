"""Photonic-crystal datasets: cells, labels from the solver, cache and graphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sgnn.data import PhotonicCrystals, cell_to_data, lattice_graph
from sgnn.photonics import band_gap, k_path, photonic_bands, random_cells, rod_lattice


def test_cell_to_data_is_the_periodic_lattice_of_the_cell() -> None:
    eps = rod_lattice(6)
    data = cell_to_data(eps, {"y": [0.3]})
    assert data.x.shape == (36, 1) and data.x.dtype == torch.float32
    np.testing.assert_allclose(data.x[:, 0].numpy(), eps.reshape(-1), rtol=1e-6)
    assert torch.equal(data.edge_index, lattice_graph((6, 6), "periodic")[0])
    assert data.edge_index.size(1) == 4 * 36  # every pixel has four neighbours, wrapped
    assert data.lattice_shape.tolist() == [[6, 6]] and data.y.tolist() == [pytest.approx(0.3)]
    for bad in (np.ones((3, 4)), np.ones(5), -np.ones((4, 4)), np.full((4, 4), np.nan)):
        with pytest.raises(ValueError, match="eps must"):
            cell_to_data(bad)


def test_photonic_crystals_hold_the_solver_labels(tmp_path) -> None:
    data = PhotonicCrystals(str(tmp_path), 6, side=8, seed=3, cutoff=1.5, num_bands=3,
                            points_per_segment=2, num_workers=0)  # fmt: skip
    assert len(data) == 6 and "side=8" in repr(data)
    cells = data.cells()
    assert cells.shape == (6, 8, 8)
    for graph, cell in zip(data, cells, strict=True):
        np.testing.assert_allclose(graph.x[:, 0].numpy(), cell.reshape(-1), rtol=1e-6)
        bands = photonic_bands(cell, k_path(2), num_bands=3, polarization="tm", cutoff=1.5)
        np.testing.assert_allclose(graph.bands[0].numpy(), bands, rtol=1e-5)
        assert graph.y.item() == pytest.approx(band_gap(bands).ratio, abs=1e-6)
    # the cells are those of random_cells, one child seed each, so a dataset extends
    # a smaller one of the same seed and differs from another seed
    child = np.random.SeedSequence(3).spawn(1)[0]
    np.testing.assert_array_equal(cells[0], random_cells(1, 8, np.random.default_rng(child),
                                                         (0.05, 0.3))[0])  # fmt: skip
    smaller = PhotonicCrystals(str(tmp_path), 4, side=8, seed=3, cutoff=1.5, num_bands=3,
                               points_per_segment=2, num_workers=0)  # fmt: skip
    for a, b in zip(smaller, data, strict=False):
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    other = PhotonicCrystals(str(tmp_path), 4, side=8, seed=4, cutoff=1.5, num_bands=3,
                             points_per_segment=2, num_workers=0)  # fmt: skip
    assert not torch.equal(other[0].x, data[0].x)
    # every parameter names its own cache file
    names = {PhotonicCrystals(str(tmp_path), 2, side=8, seed=3, cutoff=c, num_bands=3,
                              points_per_segment=2, num_workers=0).processed_paths[0]
             for c in (1.5, 1.2)}  # fmt: skip
    assert len(names) == 2


def test_photonic_crystals_bad_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match="num_cells"):
        PhotonicCrystals(str(tmp_path), 0)
    with pytest.raises(ValueError, match="side"):
        PhotonicCrystals(str(tmp_path), 2, side=2)
    with pytest.raises(TypeError, match="seed"):
        PhotonicCrystals(str(tmp_path), 2, seed=1.5)
    with pytest.raises(ValueError, match="cutoff"):
        PhotonicCrystals(str(tmp_path), 2, cutoff=0)
