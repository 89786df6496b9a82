"""The band-gap task: the four models, their symmetries, batching and parameter counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.profile import count_parameters

from sgnn.data import lattice_graph
from sgnn.nn import LatticeGNN
from sgnn.photonics import random_cells
from sgnn.pool import dilated_edge_key
from sgnn.tasks.photonic import (
    BANDGAP_MODELS,
    CellMLP,
    GridCNN,
    ScaledPermittivity,
    bandgap_model,
    bandgap_transform,
)
from sgnn.testing import assert_lattice_symmetric


def cell_data(cell: np.ndarray, y: float = 0.0, dtype: torch.dtype = torch.float64) -> Data:
    """A photonic cell as the dataset stores it, with the periodic dilated edges."""
    n = cell.shape[0]
    data = Data(x=torch.as_tensor(cell, dtype=dtype).reshape(n * n, 1),
                edge_index=lattice_graph((n, n), "periodic")[0],
                lattice_shape=torch.tensor([[n, n]]), y=torch.tensor([y], dtype=dtype))  # fmt: skip
    return bandgap_transform()(data)


def models(side: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    return {name: bandgap_model(name, side).to(dtype) for name in BANDGAP_MODELS}


@pytest.fixture(scope="module")
def cells() -> np.ndarray:
    return random_cells(4, n=8, rng=0)


@pytest.mark.parametrize("side", [16, 32])
@pytest.mark.parametrize("hidden", [8, 16, 32])
def test_parameter_counts_match(side: int, hidden: int) -> None:
    counts = {name: count_parameters(bandgap_model(name, side, hidden_channels=hidden))
              for name in BANDGAP_MODELS}  # fmt: skip
    target = count_parameters(LatticeGNN(1, hidden, 1, (1, 2, 4, 8), graph_aggr="mean"))
    assert counts["dilated"] == counts["plain"] == target
    for name in ("cnn", "mlp"):
        assert abs(counts[name] - target) < 0.05 * target, (name, counts)


def test_models_and_reprs() -> None:
    ms = {name: bandgap_model(name, 16) for name in BANDGAP_MODELS}
    assert all(isinstance(m, ScaledPermittivity) for m in ms.values())
    assert ms["dilated"].module.dilations == (1, 2, 4, 8)
    assert ms["plain"].module.dilations == (1, 1, 1, 1)
    assert repr(ms["cnn"]) == ("ScaledPermittivity(GridCNN(16, [12, 12, 12, 14], 1, "
                               "readout_channels=1), offset=1.0, scale=10.0)")  # fmt: skip
    assert repr(ms["mlp"].module) == "CellMLP(16, [16, 24], 1)"
    assert "dilations=[1, 2, 4, 8], graph_aggr='mean'" in repr(ms["dilated"])
    assert repr(ms["plain"]) == repr(ms["dilated"]).replace("[1, 2, 4, 8]", "[1, 1, 1, 1]")
    assert repr(GridCNN(8, 4, num_layers=2, readout_channels=3)) == (
        "GridCNN(8, [4, 4], 1, readout_channels=3)")  # fmt: skip
    assert repr(CellMLP(8, 5)) == "CellMLP(8, [5, 5], 1)"
    transform = bandgap_transform((1, 2))
    assert transform.boundary == "periodic" and transform.dilations == (1, 2)


def test_scaling_feeds_the_affine_map_and_leaves_the_input_alone() -> None:
    seen = {}

    class Probe(torch.nn.Module):
        def forward(self, data: Data) -> torch.Tensor:
            seen["x"] = data.x
            return data.x.sum().view(1, 1)

    data = Data(x=torch.tensor([[1.0], [11.0], [21.0]]))
    ScaledPermittivity(Probe())(data)
    assert torch.equal(seen["x"], torch.tensor([[0.0], [1.0], [2.0]]))
    assert torch.equal(data.x, torch.tensor([[1.0], [11.0], [21.0]]))


@pytest.mark.parametrize("name", ["dilated", "plain"])
def test_lattice_models_are_invariant(name: str, cells: np.ndarray) -> None:
    model = models(8)[name]
    cell = cells[0]
    with torch.no_grad():
        out = model(cell_data(cell))
        assert out.shape == (1, 1)
        # Every periodic translation of the cell, exactly.
        for di in range(8):
            for dj in range(8):
                moved = model(cell_data(np.roll(cell, (di, dj), axis=(0, 1))))
                torch.testing.assert_close(moved, out, rtol=1e-10, atol=1e-10)
        # Not vacuously: another cell, or the same cell with one pixel changed, differs.
        assert (model(cell_data(cells[1])) - out).abs().item() > 1e-6
        poked = cell.copy()
        poked[2, 3] += 1.0
        assert (model(cell_data(poked)) - out).abs().item() > 1e-8
    # The 8 symmetries of the square: LatticeSymmetry relabels the periodic edges, the
    # dilated ones are rebuilt periodic.
    data = cell_data(cell)
    assert_lattice_symmetric(model, data, output="graph", prepare=bandgap_transform())
    # By hand too: rotate and transpose the numpy cell.
    with torch.no_grad():
        for k in range(4):
            for image in (np.rot90(cell, k), np.rot90(cell, k).T):
                got = model(cell_data(np.ascontiguousarray(image)))
                torch.testing.assert_close(got, out, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_baselines_are_not_invariant(name: str, cells: np.ndarray) -> None:
    model = models(8)[name]
    cell = cells[0]
    with torch.no_grad():
        out = model(cell_data(cell))
        assert out.shape == (1, 1)
        for shift in [(1, 0), (0, 1), (3, 5)]:
            moved = model(cell_data(np.roll(cell, shift, axis=(0, 1))))
            assert (moved - out).abs().item() > 1e-6, shift
    # The same assertion that passes for the lattice models fails for these.
    with pytest.raises(AssertionError, match="D4 element"):
        assert_lattice_symmetric(model, cell_data(cell), output="graph",
                                 prepare=bandgap_transform())  # fmt: skip


def test_grid_cnn_pads_with_zeros() -> None:
    # On a uniform image, zero padding makes the border pixels differ from the interior
    # (periodic padding would keep the image uniform), and the image keeps its size.
    torch.manual_seed(0)
    cnn = GridCNN(8, 4, num_layers=2).double()
    with torch.no_grad():
        h = cnn.convs(torch.ones(1, 1, 8, 8, dtype=torch.float64))
    assert h.shape == (1, 4, 8, 8)
    torch.testing.assert_close(h[..., 2:6, 2:6], h[..., 2:3, 2:3].expand(1, 4, 4, 4))
    assert (h[..., 0, 4] - h[..., 4, 4]).abs().min() > 1e-6
    assert (h[..., 4, 7] - h[..., 4, 4]).abs().min() > 1e-6


@pytest.mark.parametrize("name", BANDGAP_MODELS)
def test_batch_equals_one_by_one(name: str, cells: np.ndarray) -> None:
    model = models(8)[name]
    items = [cell_data(c, y=0.1 * i) for i, c in enumerate(cells)]
    with torch.no_grad():
        batched = model(Batch.from_data_list(items))
        single = torch.cat([model(Batch.from_data_list([d])) for d in items])
        plain = torch.cat([model(d) for d in items])  # a lone Data, no batch vector
    assert batched.shape == (len(items), 1)
    torch.testing.assert_close(batched, single, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(batched, plain, rtol=1e-10, atol=1e-12)
    assert batched.std() > 0  # the cells are told apart


@pytest.mark.parametrize("name", BANDGAP_MODELS)
def test_gradients_reach_every_layer(name: str) -> None:
    model = models(16, dtype=torch.float32)[name]
    cells = random_cells(3, n=16, rng=1)
    batch = Batch.from_data_list([cell_data(c, y=0.2, dtype=torch.float32) for c in cells])
    loss = torch.nn.functional.mse_loss(model(batch), batch.y.view(-1, 1))
    loss.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    for which, p in (("first", params[0]), ("last", params[-1])):
        assert p.grad is not None and p.grad.abs().sum() > 0, which
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in params)


def test_reset_parameters_redraws_every_layer() -> None:
    for name in BANDGAP_MODELS:
        model = bandgap_model(name, 8, hidden_channels=4)
        before = [p.detach().clone() for p in model.parameters()]
        model.reset_parameters()
        after = list(model.parameters())
        assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True)
                   if a.numel() > 1), name  # fmt: skip


def test_grid_models_check_their_cells(cells: np.ndarray) -> None:
    small = cell_data(random_cells(1, n=6, rng=0)[0])
    for name in ("cnn", "mlp"):
        model = models(8)[name]
        with pytest.raises(ValueError, match="8 x 8"):
            model(small)
        # Mixed sides in one batch; and, where the number of pixels fits, the shapes are
        # read from lattice_shape and the cell sizes from ptr.
        mixed = Batch.from_data_list([cell_data(cells[0]), small])
        with pytest.raises(ValueError, match="8 x 8"):
            model(mixed)
        fake = Batch.from_data_list([cell_data(cells[0]), cell_data(cells[1])])
        fake.lattice_shape = torch.tensor([[8, 8], [4, 16]])
        with pytest.raises(ValueError, match="every cell of the batch must be 8 x 8"):
            model(fake)
        fake.lattice_shape = torch.tensor([[8, 8], [8, 8]])
        fake.ptr = torch.tensor([0, 60, 128])
        with pytest.raises(ValueError, match="every cell of the batch must have 64 nodes"):
            model(fake)
        with pytest.raises(ValueError, match=r"\(B \* 64, 1\)"):
            model.module(Data(x=torch.ones(64, 2, dtype=torch.float64)))
    # Without lattice_shape or ptr the number of cells is read off x.
    x = torch.rand(2 * 64, 1)
    assert CellMLP(8, 3)(Data(x=x)).shape == (2, 1)
    assert GridCNN(8, 3)(Data(x=x)).shape == (2, 1)


def test_lattice_models_need_the_dilated_edges(cells: np.ndarray) -> None:
    bare = Data(x=torch.as_tensor(cells[0]).reshape(64, 1),
                edge_index=lattice_graph((8, 8), "periodic")[0],
                lattice_shape=torch.tensor([[8, 8]]))  # fmt: skip
    with pytest.raises(ValueError, match=dilated_edge_key(2)):
        models(8)["dilated"](bare)
    assert models(8)["plain"](bare).shape == (1, 1)  # dilation 1 only: edge_index


def test_bad_arguments() -> None:
    for args, kwargs, error, match in [
        (("resnet", 16), {}, ValueError, "name must be one of"),
        ((None, 16), {}, ValueError, "name must be one of"),
        (("cnn", 3), {}, ValueError, "side"),
        (("mlp", 16.0), {}, TypeError, "side"),
        (("dilated", True), {}, TypeError, "side"),
        (("cnn", 16), {"hidden_channels": 0}, ValueError, "hidden_channels"),
        (("mlp", 16), {"hidden_channels": 2.5}, TypeError, "hidden_channels"),
        (("dilated", 16), {"dilations": ()}, ValueError, "dilations"),
        (("plain", 16), {"dilations": (1, 0)}, ValueError, "dilations"),
    ]:  # fmt: skip
        with pytest.raises(error, match=match):
            bandgap_model(*args, **kwargs)
    with pytest.raises(ValueError, match="hidden_channels"):
        GridCNN(8, (4, 4), num_layers=3)
    with pytest.raises(ValueError, match="hidden_channels"):
        CellMLP(8, ())
    with pytest.raises(TypeError, match="hidden_channels"):
        CellMLP(8, (4, "4"))
    with pytest.raises(ValueError, match="readout_channels"):
        GridCNN(8, 4, readout_channels=0)
    with pytest.raises(ValueError, match="scale"):
        ScaledPermittivity(CellMLP(8, 4), scale=0.0)
    with pytest.raises(ValueError, match="offset"):
        ScaledPermittivity(CellMLP(8, 4), offset=float("nan"))
    with pytest.raises(TypeError, match="module"):
        ScaledPermittivity(lambda data: data.x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dilations"):
        bandgap_transform(4)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["dilated", "cnn"])
def test_tiny_fit(name: str) -> None:
    # A translation- and D4-invariant target in the range of gap ratios,
    # f log(eps_h) / (2 log 20) with f the fill fraction of the high permittivity eps_h:
    # a couple of hundred Adam steps cut the error tenfold.
    cells = random_cells(32, n=8, rng=2)
    fill, high = (cells > 1).mean(axis=(1, 2)), cells.max(axis=(1, 2))
    target = 0.5 * fill * np.log(high) / np.log(20)
    batch = Batch.from_data_list([cell_data(c, y=float(t), dtype=torch.float32)
                                  for c, t in zip(cells, target, strict=True)])  # fmt: skip
    torch.manual_seed(0)
    model = bandgap_model(name, 8, hidden_channels=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    y = batch.y.view(-1, 1)
    baseline = ((y - y.mean()) ** 2).mean().item()
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(batch), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * baseline
