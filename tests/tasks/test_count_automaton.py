"""The counting automaton: the exact rule verifies and reproduces the engine, a wrong rule is
caught, snapping recovers the exact rule from a rescaled noisy one, and training runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from sgnn.data import avalanche_to_data
from sgnn.nn import RecurrentOutput
from sgnn.sandpile import avalanche_sample
from sgnn.tasks import (
    CountAutomaton,
    count_cases,
    multi_wave,
    predicted_avalanche_size,
    sandpile_loss,
    sandpile_metrics,
    search_gamma,
    train_count_automaton,
    train_sandpile_model,
    verify_rule,
)


def samples(size: int, count: int, seed: int) -> list[dict]:
    return [avalanche_sample((size, size), "footprint", child)
            for child in np.random.SeedSequence(seed).spawn(count)]  # fmt: skip


@pytest.fixture(scope="module")
def exact() -> CountAutomaton:
    return CountAutomaton().set_exact().eval()


def test_local_domain_size_and_targets() -> None:
    cases = count_cases(2)
    # 40 inputs x 3 own counts x multisets of 0..2 of size 0..4 (C(7, 4) = 35), + 40 starts.
    assert cases.num_cases == 40 * 3 * 35 + 40
    assert cases.target.shape == (40 * 3 * 35, 1)
    assert int(cases.target.max()) == (3 + 1 + 8) // 4
    with pytest.raises(ValueError, match="max_count"):
        count_cases(0)


def test_exact_rule_verifies(exact: CountAutomaton) -> None:
    result = verify_rule(exact)
    assert result.passed and result.num_cases == 257_440


@pytest.mark.parametrize("which", ["height", "missing", "beta", "gamma", "bias"])
def test_one_wrong_weight_is_caught(which: str) -> None:
    model = CountAutomaton().set_exact()
    with torch.no_grad():
        if which == "height":
            model.rule.lin.weight[0, 0] = -0.6  # z = 0 now needs one more grain
        elif which == "missing":
            model.rule.lin.weight[0, 4] = -0.25
        elif which == "beta":
            model.rule.beta.fill_(1.125)
        elif which == "gamma":
            model.rule.gamma.fill_(4.25)
        else:
            model.rule.lin.bias.fill_(-4.0)
    assert not verify_rule(model).passed


def test_exact_rule_reproduces_the_engine(exact: CountAutomaton) -> None:
    data = [avalanche_to_data(s) for s in samples(64, 4, 5)]
    with torch.no_grad():
        for d in data:
            result = exact(d)
            assert bool(result.converged.all())
            assert torch.equal(result.state[:, 0], d.topplings.to(result.state))
        batch = Batch.from_data_list(data)  # a batch equals its graphs one by one
        result = exact(batch)
    assert torch.equal(result.state[:, 0], batch.topplings.to(result.state))
    size = predicted_avalanche_size(result.node, batch)
    assert torch.allclose(size.double(), batch.avalanche_size.double(), rtol=1e-5)
    iou = sandpile_metrics("footprint")["IoU"](result, batch)
    assert torch.equal(iou, torch.ones_like(iou))


def test_outputs_shapes_and_repr(exact: CountAutomaton) -> None:
    d = avalanche_to_data(samples(8, 1, 3)[0])
    with torch.no_grad():
        result = exact(d)
    assert isinstance(result, RecurrentOutput)
    assert result.node.shape == (64, 2) and result.state.shape == (64, 1)
    n = d.topplings.to(result.node)
    assert torch.allclose(result.node, torch.stack([n - 0.5, torch.log1p(n)], 1))
    assert repr(CountAutomaton("counts")) == (
        "CountAutomaton(supervision='counts', max_count=64, case_count=8)"
    )


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"supervision": "sizes"}, "supervision"),
    ({"max_count": 0}, "max_count"),
    ({"case_count": 1.5}, "case_count"),
])  # fmt: skip
def test_bad_arguments_raise(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        CountAutomaton(**kwargs)


def test_snap_recovers_the_exact_rule_from_a_rescaled_noisy_one() -> None:
    model = CountAutomaton().set_exact()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():  # the rule is invariant under rescaling; add noise
            p.mul_(2.5).add_(0.1 * torch.rand(p.shape, generator=gen) - 0.05)
    assert model.snap().passed
    assert model.rule.beta.item() == 1.0 and model.rule.gamma.item() == 4.0


def test_gamma_search_finds_the_threshold_step() -> None:
    model = CountAutomaton("counts").set_exact()
    with torch.no_grad():
        model.rule.gamma.fill_(9.0)
    data = [avalanche_to_data(s) for s in samples(16, 12, 2)]
    gamma, score = search_gamma(model, data)
    assert score == 1.0 and 3.5 <= gamma < 4.5  # counts <= 2 here: any step in [3.5, 4.5)


@pytest.mark.parametrize("supervision", ["footprint", "counts"])
def test_training_loss_backpropagates_to_every_weight(supervision: str) -> None:
    torch.manual_seed(0)
    model = CountAutomaton(supervision)
    batch = Batch.from_data_list([avalanche_to_data(s) for s in samples(8, 3, 4)])
    for teacher_forcing in (False, True):
        model.zero_grad()
        loss = model.training_loss(batch, torch.Generator().manual_seed(0),
                                   teacher_forcing=teacher_forcing)  # fmt: skip
        loss.backward()
        assert torch.isfinite(loss)
        assert model.rule.lin.weight.grad is not None and model.rule.beta.grad is not None
    assert sandpile_loss("footprint")(model, batch).item() > 0


def test_teacher_forced_training_lowers_the_loss() -> None:
    torch.manual_seed(0)
    model = CountAutomaton("counts")
    data = [avalanche_to_data(s) for s in samples(16, 16, 7)]
    batch = Batch.from_data_list(data)
    before = model.training_loss(batch).item()
    result = train_count_automaton(model, data, epochs=5, warm_epochs=0, lr=0.1,
                                   gamma_search=False, snap=False)  # fmt: skip
    assert model.training_loss(batch).item() < before
    assert len(result["losses"]) == 5 and result["gamma_score"] is None


def test_multi_wave_tells_single_from_multi_wave_avalanches() -> None:
    data = [avalanche_to_data(s) for s in samples(32, 40, 11)]
    counts = [multi_wave(d, "counts") for d in data]
    footprint = [multi_wave(d, "footprint") for d in data]
    for d, by_counts, by_footprint in zip(data, counts, footprint, strict=True):
        assert by_counts == (int(d.topplings.max()) >= 2)
        assert by_footprint <= by_counts  # a larger footprint needs a second toppling
    assert any(counts) and not all(counts)
    with pytest.raises(ValueError, match="supervision"):
        multi_wave(data[0], "heights")


def test_train_sandpile_model_trains_the_count_model_in_stages() -> None:
    """The staged training, reached through train_sandpile_model (as sgnn train does), learns
    the exact rule from footprints alone on 300 + 300 avalanches of L = 16 and 32."""
    train_sets = [[avalanche_to_data(s) for s in samples(size, 300, seed)]
                  for size, seed in ((16, 1), (32, 2))]  # fmt: skip
    torch.manual_seed(0)
    model = CountAutomaton()
    result = train_sandpile_model(model, train_sets, [], epochs=10, lr=0.1)
    assert set(result) >= {"losses", "gamma_score", "verification", "seconds"}
    assert result["verification"].passed and verify_rule(model).passed
    assert model.rule.beta.item() == 1.0 and model.rule.gamma.item() == 4.0
