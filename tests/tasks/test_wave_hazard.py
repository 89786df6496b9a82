"""The wave hazard model, the hazard loss and the parameter-free hazard baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch_geometric.data import Batch, Data

from sgnn.data import sandpile_to_data
from sgnn.sandpile import avalanche_sizes, sample_recurrent, wave_sizes
from sgnn.tasks import (
    HAZARD_BASELINES,
    WaveHazard,
    hazard_baseline,
    hazard_criterion,
    sandpile_loss,
    sandpile_model,
    train_sandpile_model,
)


def hazard_data(z: np.ndarray, dtype: torch.dtype = torch.float32):
    sizes = torch.from_numpy(avalanche_sizes(z, progress=False)[0].reshape(-1))
    data = sandpile_to_data(z, dtype=dtype)
    data.avalanche_sizes = sizes
    data.hazard = torch.log1p(sizes.to(dtype))
    return data


@pytest.fixture(scope="module")
def piles() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [sample_recurrent((12, 12), rng), sample_recurrent((9, 14), rng)]


def test_wave_hazard_is_exact_where_there_is_no_second_wave(piles) -> None:
    torch.manual_seed(0)
    model = WaveHazard(hidden_channels=8).double()
    batch = Batch.from_data_list([hazard_data(z, torch.float64) for z in piles])
    out = model(batch)
    assert out.shape == (batch.num_nodes, 1) and out.dtype == torch.float64
    waves = np.concatenate([wave_sizes(z, num_waves=2).reshape(2, -1) for z in piles], axis=1)
    below = np.concatenate([z.reshape(-1) < 3 for z in piles])
    assert torch.all(out[torch.from_numpy(below), 0] == 0)  # nothing topples there
    # one wave only: the avalanche is that wave, whatever the head
    single = torch.from_numpy(waves[1] == 0)
    torch.testing.assert_close(out[single, 0], torch.from_numpy(np.log1p(waves[0]))[single])
    # never below the first two waves; with a silent head, the later waves carry w2
    assert torch.all(out[:, 0] >= torch.from_numpy(np.log1p(waves.sum(0))) - 1e-12)
    torch.nn.init.zeros_(model.head.head[-1].weight)
    torch.nn.init.zeros_(model.head.head[-1].bias)
    expected = torch.from_numpy(np.log1p(waves[0] + 2 * waves[1]))
    torch.testing.assert_close(model(batch)[:, 0], expected)
    # the head runs only around the sites with a second wave: the same as everywhere
    model.reset_parameters()
    first, second = (torch.from_numpy(w) for w in waves)
    ratio = torch.where(first > 0, second / first.clamp(min=1), torch.zeros_like(first))
    features = torch.cat([batch.x[:, :5], ratio[:, None], (second > 0).double()[:, None]], 1)
    later = torch.exp(model.head(Data(x=features, edge_index=batch.edge_index))[:, 0])
    torch.testing.assert_close(model(batch)[:, 0], torch.log1p(first + second * (1 + later)))
    assert (second > 0).any() and (second == 0).any()
    # a batch is scored graph by graph
    alone = torch.cat([model(hazard_data(z, torch.float64)) for z in piles])
    torch.testing.assert_close(model(batch), alone)


def test_wave_hazard_commutes_with_the_symmetries_of_the_square(piles) -> None:
    torch.manual_seed(1)
    model = WaveHazard(hidden_channels=8).double()
    z = piles[0]
    out = model(hazard_data(z, torch.float64))[:, 0].reshape(z.shape)
    for k in range(4):
        for flip in (False, True):
            g = np.rot90(z, k)
            g = np.fliplr(g) if flip else g
            moved = model(hazard_data(np.ascontiguousarray(g), torch.float64))[:, 0]
            ref = torch.rot90(out, k)
            ref = torch.fliplr(ref) if flip else ref
            torch.testing.assert_close(moved.reshape(g.shape), ref)


def test_wave_hazard_trains_and_refuses_bad_input(piles) -> None:
    model = sandpile_model("wave", "hazard", hidden_channels=8)
    batch = Batch.from_data_list([hazard_data(z) for z in piles])
    loss = sandpile_loss("hazard")(model, batch)
    loss.backward()
    assert torch.isfinite(loss) and model.head.encoder[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="hazard maps only"):
        sandpile_model("wave", "footprint")
    with pytest.raises(ValueError, match="num_waves must be 1 or 2"):
        WaveHazard(num_waves=3)
    with pytest.raises(ValueError, match="hidden_channels"):
        WaveHazard(hidden_channels=0)
    bad = hazard_data(piles[0])
    bad.lattice_shape = torch.tensor([[5, 5]])
    with pytest.raises(ValueError, match="cannot be a 5x5 lattice"):
        model(bad)
    with pytest.raises(ValueError, match=r"data.x must have shape"):
        model(type(bad)(x=bad.x[:, :3], edge_index=bad.edge_index, lattice_shape=bad.lattice_shape))
    assert "num_waves=2" in repr(model)


def test_hazard_criterion_by_hand() -> None:
    sizes = torch.tensor([0.0, 1.0, 3.0, 0.0, 0.0])
    batch = Batch.from_data_list([
        type(hazard_data(np.zeros((1, 3), dtype=int)))(x=torch.zeros(3, 5), hazard=torch.log1p(
            sizes[:3]), avalanche_sizes=sizes[:3]),
        type(hazard_data(np.zeros((1, 2), dtype=int)))(x=torch.zeros(2, 5), hazard=torch.log1p(
            sizes[3:]), avalanche_sizes=sizes[3:]),
    ])  # fmt: skip
    pred = torch.tensor([[0.5], [-1.0], [2.0], [0.3], [0.1]], requires_grad=True)
    loss = hazard_criterion(pred, batch)
    logq = torch.log_softmax(pred[:3, 0], 0)
    # the second graph has no avalanche: it adds its squared error only
    expected = -(sizes[:3] / 4 * logq).sum() + ((pred[:, 0] - batch.hazard) ** 2).mean()
    torch.testing.assert_close(loss, expected)
    # the listwise part is blind to a shift within a graph and least at h ∝ log s
    shifted = pred.detach().clone()
    shifted[:3] += 7
    listwise = hazard_criterion(shifted, batch) - ((shifted[:, 0] - batch.hazard) ** 2).mean()
    torch.testing.assert_close(listwise, expected - ((pred[:, 0] - batch.hazard) ** 2).mean())
    with pytest.raises(ValueError, match=r"out must have shape \(N, 1\)"):
        hazard_criterion(torch.zeros(5, 2), batch)


def test_hazard_baselines_by_hand(piles) -> None:
    batch = Batch.from_data_list([hazard_data(z) for z in piles])
    outs = {name: hazard_baseline(name)(batch)[:, 0] for name in HAZARD_BASELINES}
    first, both, clusters = [], [], []
    for z in piles:
        w = wave_sizes(z, num_waves=2)
        first.append(w[0].reshape(-1))
        both.append(w.sum(0).reshape(-1))
        labels, _ = ndimage.label(z == 3)
        count = np.bincount(labels.reshape(-1))
        count[0] = 0
        clusters.append(count[labels].reshape(-1))
    for name, ref in (("first-wave", first), ("two-waves", both), ("height-3", clusters)):
        torch.testing.assert_close(outs[name], torch.log1p(torch.from_numpy(
            np.concatenate(ref)).float()))  # fmt: skip
    # lower bounds of the truth: every wave is part of the avalanche
    assert torch.all(outs["two-waves"] <= batch.hazard + 1e-6)
    with pytest.raises(ValueError, match="name must be one of"):
        hazard_baseline("oracle")


def test_train_sandpile_model_trains_with_a_given_loss(piles) -> None:
    data = [hazard_data(z) for z in piles]
    seen = []

    def squared_error(model, batch):
        seen.append(batch.num_graphs)
        return torch.nn.functional.mse_loss(model(batch)[:, 0], batch.hazard)

    model = WaveHazard(hidden_channels=4)
    before = [p.detach().clone() for p in model.parameters()]
    train_sandpile_model(model, [data], [data], epochs=1, lr=1e-2, target="hazard",
                         batch_size=2, loss=squared_error, progress=False)  # fmt: skip
    assert seen == [2, 2]  # one training batch, one validation batch
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
