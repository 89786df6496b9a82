"""The sandpile tasks: models, losses, metrics and the mixed-size loader."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from sgnn.data import AddHierarchy, SandpileAvalanches, avalanche_to_data
from sgnn.nn import LatticeGNN, RGNet, RGNetOutput
from sgnn.sandpile import avalanche_sample
from sgnn.tasks import (
    RECURRENT_MODELS,
    SANDPILE_MODELS,
    MixedSizeLoader,
    predicted_avalanche_size,
    sandpile_loss,
    sandpile_metrics,
    sandpile_model,
    sandpile_transform,
)
from sgnn.train import evaluate


@pytest.fixture(scope="module")
def footprints(tmp_path_factory: pytest.TempPathFactory) -> SandpileAvalanches:
    root = tmp_path_factory.mktemp("tasks")
    return SandpileAvalanches(str(root), 8, 12, "footprint", 3, pre_transform=sandpile_transform(),
                              num_workers=0, log=False)  # fmt: skip


@pytest.fixture(scope="module")
def hazards(tmp_path_factory: pytest.TempPathFactory) -> SandpileAvalanches:
    root = tmp_path_factory.mktemp("tasks")
    return SandpileAvalanches(str(root), 8, 6, "hazard", 3, pre_transform=sandpile_transform(),
                              num_workers=0, log=False)  # fmt: skip


def perfect_footprint(batch, confidence: float = 5.0) -> torch.Tensor:
    logit = torch.where(batch.toppled > 0, confidence, -confidence)
    return torch.stack([logit, torch.log1p(batch.topplings.float())], dim=1)


# (the wave model predicts hazard maps only: tests/tasks/test_wave_hazard.py)
FEED_FORWARD = [m for m in SANDPILE_MODELS if m not in (*RECURRENT_MODELS, "wave")]


@pytest.mark.parametrize("target", ["footprint", "hazard"])
@pytest.mark.parametrize("name", FEED_FORWARD)
def test_every_model_runs_and_its_loss_backpropagates(name, target, footprints, hazards) -> None:
    torch.manual_seed(0)
    data = footprints if target == "footprint" else hazards
    model = sandpile_model(name, target, hidden_channels=8)
    assert isinstance(model, RGNet if name.startswith("rgnet") else LatticeGNN)
    batch = next(iter(DataLoader(data, batch_size=3)))
    out = model(batch)
    out = out.node if isinstance(out, RGNetOutput) else out
    assert out.shape == (batch.num_nodes, 2 if target == "footprint" else 1)
    loss = sandpile_loss(target)(model, batch)
    loss.backward()
    assert torch.isfinite(loss)
    # (On an 8x8 lattice the dilation-8 layer has no edges, so not every weight gets a gradient.)
    for layer in (model.encoder[0], model.head[-1]):
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["rgnet-exact", "rgnet-unet"])
def test_rgnets_keep_height_densities_and_indicators_up_to_the_top(name: str) -> None:
    # Behaviour, not the constructor's literals: lifted to the single top site, the
    # one-hot heights must give the lattice's height fractions (a mean), and the
    # drop-site and boundary indicators must survive (a max), in a footprint sample.
    data = AddHierarchy()(avalanche_to_data(avalanche_sample((8, 8), "footprint", 3)))
    model = sandpile_model(name)
    x = data.x
    for k in range(int(data.num_levels) - 1):
        x = model.lift(x, data.level(k)[2], data.level_batch(k + 1), data.level_size(k + 1))
    assert x.shape == (1, data.x.size(1))
    torch.testing.assert_close(x[0, :4], data.x[:, :4].mean(0), rtol=0, atol=1e-6)
    torch.testing.assert_close(x[0, 4:], data.x[:, 4:].amax(0), rtol=0, atol=0)
    assert x[0, 5] == 1  # the drop site


def test_footprint_metrics_and_loss_of_a_perfect_predictor(footprints) -> None:
    batch = next(iter(DataLoader(footprints, batch_size=12)))
    metrics = sandpile_metrics("footprint")
    out = perfect_footprint(batch)
    assert torch.all(metrics["IoU"](out, batch) == 1)
    assert torch.all(metrics["exact"](out, batch) == 1)
    torch.testing.assert_close(metrics["|dlog(1+s)|"](out, batch).float(),
                               torch.zeros(12), atol=1e-4, rtol=0)  # fmt: skip
    size = predicted_avalanche_size(out, batch)
    torch.testing.assert_close(size, batch.avalanche_size.float(), rtol=1e-5, atol=1e-3)
    # A feed-forward output runs no iterations: NaN, left out of evaluate's averages.
    assert torch.isnan(metrics["iterations"](out, batch)).all()

    class Perfect(torch.nn.Module):
        def forward(self, batch):
            return perfect_footprint(batch, confidence=20.0)

    # BCE log(1 + e^-20) per site, soft IoU 1 - O(N e^-20), exact log counts: the loss is ~0.
    assert 0 < float(sandpile_loss("footprint")(Perfect(), batch)) < 1e-6
    # The empty prediction has IoU 0 on every avalanche (the drop site always topples).
    empty = -perfect_footprint(batch).abs()
    assert torch.all(metrics["IoU"](empty, batch) == 0)
    assert torch.all(metrics["exact"](empty, batch) == 0)


def test_hazard_metrics_of_a_perfect_and_a_reversed_predictor(hazards) -> None:
    batch = next(iter(DataLoader(hazards, batch_size=6)))
    metrics = sandpile_metrics("hazard")
    spearman = metrics["Spearman"](batch.hazard[:, None], batch)
    # NaN exactly where a lattice's hazard is constant (no ranking to compare); else 1.
    constant = torch.stack([g.hazard.min() == g.hazard.max() for g in batch.to_data_list()])
    assert torch.equal(torch.isnan(spearman), constant) and not constant.all()
    assert torch.all(spearman[~constant] > 0.999)
    assert torch.all(metrics["top-1% recall"](batch.hazard[:, None], batch) == 1)
    assert torch.all(metrics["Spearman"](-batch.hazard[:, None], batch) < -0.999)
    # The captured hazard is 1 for the truth and, graph by graph, the brute-force share
    # of the true top k's total that the reversed ranking's top k holds.
    for name in ("captured 1%", "captured 0.1%"):
        assert torch.all(metrics[name](batch.hazard[:, None], batch) == 1)
    reversed_ = metrics["captured 1%"](-batch.hazard[:, None], batch)
    for g, graph in enumerate(batch.to_data_list()):
        sizes = graph.avalanche_sizes.double()
        k = max(1, math.ceil(np.float32(sizes.numel() * 0.01)))
        named = torch.argsort(graph.hazard, stable=True)[:k]  # the safest sites first
        best = sizes.sort(descending=True).values[:k].sum()
        expected = sizes[named].sum() / best if best > 0 else torch.tensor(math.nan)
        torch.testing.assert_close(reversed_[g], expected.double(), equal_nan=True)
    # Alarms at log(1 + HW/8): the truth is perfectly precise and complete where a
    # system-spanning site exists, and NaN (no alarm, no such site) elsewhere.
    precision = metrics["alarm precision"](batch.hazard[:, None], batch)
    recall = metrics["alarm recall"](batch.hazard[:, None], batch)
    spanning = torch.tensor([bool((g.avalanche_sizes >= g.num_nodes / 8).any())
                             for g in batch.to_data_list()])  # fmt: skip
    assert spanning.any() and torch.equal(~torch.isnan(precision), spanning)
    assert torch.all(precision[spanning] == 1) and torch.all(recall[spanning] == 1)
    nothing = metrics["alarm recall"](torch.full_like(batch.hazard[:, None], -1.0), batch)
    assert torch.all(nothing[spanning] == 0)


def test_evaluate_runs_the_model_once_per_batch_for_all_metrics(footprints) -> None:
    # No caching by identity: evaluate calls the model once and hands its output to every
    # metric; the averages are the per-graph values of the whole set.
    calls = []

    class Perfect(torch.nn.Module):
        def forward(self, batch):
            calls.append(batch.num_graphs)
            return perfect_footprint(batch)

    result = evaluate(Perfect(), DataLoader(footprints, batch_size=5),
                      sandpile_metrics("footprint"))  # fmt: skip
    assert calls == [5, 5, 2]
    assert result["IoU"] == result["exact"] == 1.0
    assert result["iterations"] != result["iterations"]  # NaN: no recurrent model
    # A predictor that is no module (a heuristic) is evaluated the same way.
    result = evaluate(lambda b: -perfect_footprint(b).abs(), DataLoader(footprints, batch_size=5),
                      sandpile_metrics("footprint"))  # fmt: skip
    assert result["IoU"] == 0.0


def test_predict_is_deprecated_but_still_computes_the_metrics(hazards) -> None:
    batch = next(iter(DataLoader(hazards, batch_size=6)))
    with pytest.warns(DeprecationWarning, match="pass the predictor to evaluate"):
        old = sandpile_metrics("hazard", predict=lambda b: -b.hazard[:, None])
    new = sandpile_metrics("hazard")
    for name in new:
        torch.testing.assert_close(old[name](None, batch), new[name](-batch.hazard[:, None], batch),
                                   equal_nan=True)  # fmt: skip


def test_mixed_size_loader_visits_every_batch_once_in_a_seeded_order() -> None:
    loaders = [[("a", i) for i in range(3)], [("b", i) for i in range(5)]]
    first = list(MixedSizeLoader(loaders, seed=1))
    assert sorted(first) == sorted(loaders[0] + loaders[1]) and len(MixedSizeLoader(loaders)) == 8
    again = MixedSizeLoader(loaders, seed=1)
    assert list(again) == first and list(again) != first  # reshuffled every epoch
    with pytest.raises(ValueError, match="loaders"):
        MixedSizeLoader([])


def test_bad_names_and_targets() -> None:
    with pytest.raises(ValueError, match="name"):
        sandpile_model("transformer")
    with pytest.raises(ValueError, match="target"):
        sandpile_model("local", "energy")
    with pytest.raises(ValueError, match="hidden_channels"):
        sandpile_model("local", hidden_channels=0)
    with pytest.raises(ValueError, match="target"):
        sandpile_loss("energy")
    with pytest.raises(ValueError, match="target"):
        sandpile_metrics("energy")


def test_task_names_are_no_longer_in_sgnn_train() -> None:
    # Deprecated in 0.2, removed in 0.4: sgnn.train (generic) must not import sgnn.tasks.
    import sgnn.train

    assert not hasattr(sgnn.train, "sandpile_model")
    with pytest.raises(ImportError):
        from sgnn.train import sandpile_model  # noqa: F401


def test_mixed_size_loader_draws_lazily_and_visits_every_batch_once() -> None:
    from sgnn.tasks import MixedSizeLoader

    class Counting:
        """A loader that records how many batches have been drawn from it."""

        def __init__(self, name: str, count: int) -> None:
            self.name, self.count, self.drawn = name, count, 0

        def __len__(self) -> int:
            return self.count

        def __iter__(self):
            for k in range(self.count):
                self.drawn += 1
                yield (self.name, k)

    loaders = [Counting("a", 5), Counting("b", 3)]
    it = iter(MixedSizeLoader(loaders, seed=1))
    first = next(it)
    assert sum(loader.drawn for loader in loaders) == 1  # one batch, not the epoch
    rest = list(it)
    assert sorted([first, *rest]) == [("a", k) for k in range(5)] + [("b", k) for k in range(3)]
    # In each loader's own order, interleaved at random (seeded).
    assert [b for b in [first, *rest] if b[0] == "a"] == [("a", k) for k in range(5)]
    orders = {tuple(b[0] for b in MixedSizeLoader([Counting("a", 5), Counting("b", 3)], seed=s))
              for s in range(5)}  # fmt: skip
    assert len(orders) > 1


def test_node_outputs_unwraps_every_kind_of_model_result() -> None:
    from sgnn.nn import RecurrentOutput
    from sgnn.tasks import node_outputs

    x = torch.randn(4, 2)
    assert node_outputs(x) is x
    assert node_outputs(RGNetOutput(x)) is x
    ran = RecurrentOutput(x, x, torch.ones(1, dtype=torch.long), torch.ones(1, dtype=torch.bool))
    assert node_outputs(ran) is x
