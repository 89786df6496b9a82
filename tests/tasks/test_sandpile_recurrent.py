"""The recurrent sandpile models: an exact rule reproduces the engine, batching, equivariance,
the progressive loss, and the metrics that run the model once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader

from sgnn.data import AddHierarchy, SandpileAvalanches, avalanche_to_data
from sgnn.nn import RecurrentOutput
from sgnn.sandpile import avalanche_sample
from sgnn.tasks import (
    FootprintAutomaton,
    RGRecurrent,
    ToppleAutomaton,
    footprint_exact,
    lattice_diameter,
    sandpile_loss,
    sandpile_metrics,
    sandpile_model,
)
from sgnn.testing import assert_lattice_symmetric, assert_permutation_equivariant
from sgnn.train import evaluate, fit, progressive_loss


def samples(size: int, count: int, seed: int) -> list[dict]:
    return [avalanche_sample((size, size), "footprint", child)
            for child in np.random.SeedSequence(seed).spawn(count)]  # fmt: skip


class ExactRule(torch.nn.Module):
    """The toppling rule in closed form: the change of height -4[h >= 4] + #unstable
    neighbours and the counter's increment [h >= 4], from the thermometer bits."""

    def forward(self, x: Tensor, state: Tensor, edge_index: Tensor) -> Tensor:
        unstable = state[:, 3]  # the bit [h >= 4]
        received = torch.zeros_like(unstable).index_add_(0, edge_index[1], unstable[edge_index[0]])
        return torch.stack([received - 4 * unstable, unstable], dim=1)


def test_linear_rule_of_the_right_weights_is_exact() -> None:
    """The default rule is linear: with the weights of the toppling rule it is exact."""
    model = ToppleAutomaton()
    with torch.no_grad():
        weight = model.rule.lins[0].weight  # columns: own bits 1..7, neighbour sums 1..7
        weight[0, 3], weight[0, 7 + 3], weight[1, 3] = -4.0, 1.0, 1.0
    exact = exact_topple_automaton()
    model.start.load_state_dict(exact.start.state_dict())
    batch = Batch.from_data_list([avalanche_to_data(s) for s in samples(16, 6, 9)])
    with torch.no_grad():
        assert torch.equal(model(batch).state, exact(batch).state)


def exact_topple_automaton() -> ToppleAutomaton:
    model = ToppleAutomaton()
    model.recurrent.block.conv = ExactRule()
    with torch.no_grad():  # start: height z + o from the one-hot height and the drop site
        weight = torch.zeros(2, 6)
        weight[0, :4] = torch.arange(4.0)
        weight[0, 5] = 1.0
        model.start.weight.copy_(weight)
        model.start.bias.zero_()
    return model


@pytest.mark.parametrize("sparse", [False, True])
def test_exact_rule_reproduces_every_avalanche(sparse: bool) -> None:
    model = exact_topple_automaton().eval()
    data = [avalanche_to_data(s) for s in samples(24, 12, 5)]
    batch = Batch.from_data_list(data)
    with torch.no_grad():
        out = model(batch, sparse=sparse)
    assert isinstance(out, RecurrentOutput) and bool(out.converged.all())
    torch.testing.assert_close(out.state[:, 7], batch.topplings.float(), rtol=0, atol=0)
    assert torch.equal(out.node[:, 0] > 0, batch.toppled > 0)
    torch.testing.assert_close(out.node[:, 1], torch.log1p(batch.topplings.float()))
    # One iteration per step of the synchronous dynamics, and one to see that nothing moves.
    assert out.iterations.tolist() == (batch.avalanche_duration + 1).tolist()
    # The training loss of the exact rule is 0: every target is its output.
    model.rule = model.recurrent.block.conv
    loss = model.training_loss(batch, torch.Generator().manual_seed(0))
    assert float(loss.detach()) < 1e-10


def test_topple_automaton_learnt_on_small_lattices_is_exact_on_larger_ones() -> None:
    torch.manual_seed(0)
    data = [avalanche_to_data(s) for s in samples(12, 64, 1)]
    model = ToppleAutomaton()
    fit(model, sandpile_loss("footprint", seed=0), DataLoader(data, 8, shuffle=True), epochs=60,
        lr=3e-2, progress=False)  # fmt: skip
    fresh = [avalanche_to_data(s) for s in samples(24, 30, 2)]
    result = evaluate(model, DataLoader(fresh, 10), sandpile_metrics("footprint"))
    assert result["exact"] == 1.0 and result["IoU"] == 1.0


@pytest.mark.parametrize("name", ["hint", "recurrent", "rg-recurrent"])
def test_batch_equals_graphs_one_by_one(name: str) -> None:
    torch.manual_seed(1)
    model = sandpile_model(name, hidden_channels=8).eval()
    graphs = [AddHierarchy(num_levels=4)(avalanche_to_data(s)) for s in samples(8, 4, 2)]
    with torch.no_grad():
        together = model(Batch.from_data_list(graphs))
        alone = [model(Batch.from_data_list([g])) for g in graphs]
    torch.testing.assert_close(together.node, torch.cat([a.node for a in alone]),
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    assert together.iterations.tolist() == [int(a.iterations[0]) for a in alone]


def test_rg_recurrent_refuses_sparse_iteration() -> None:
    model = sandpile_model("rg-recurrent", hidden_channels=8).eval()
    graph = Batch.from_data_list([AddHierarchy()(avalanche_to_data(samples(8, 1, 4)[0]))])
    with torch.no_grad(), pytest.raises(ValueError, match="sparse=True"):
        model(graph, sparse=True)
    with torch.no_grad():
        dense = model(graph, sparse=False)
        default = model(graph)
    torch.testing.assert_close(dense.state, default.state)


@pytest.mark.parametrize("name", ["recurrent", "rg-recurrent"])
def test_recurrent_models_are_permutation_and_d4_equivariant(name: str) -> None:
    torch.manual_seed(2)
    model = sandpile_model(name, hidden_channels=8)
    # 8 x 8: blocks of 2 x 2 down to one site, without ragged edges (which break D4).
    data = avalanche_to_data(samples(8, 1, 3)[0])
    kinds = ("node", "node", "graph", "graph")

    def forward(module: torch.nn.Module, graph: Batch) -> tuple:
        return tuple(module(Batch.from_data_list([graph])))

    hierarchy = AddHierarchy() if name == "rg-recurrent" else None
    assert_lattice_symmetric(model, data, forward=forward, output=kinds, prepare=hierarchy)
    assert_permutation_equivariant(model, hierarchy(data) if hierarchy else data,
                                   forward=forward, output=kinds)  # fmt: skip


class Recorder(torch.nn.Module):
    """A recurrent 'model' that counts its iterations in its state and records its calls."""

    def __init__(self, settles_after: int) -> None:
        super().__init__()
        self.settles_after = settles_after
        self.weight = torch.nn.Parameter(torch.ones(()))
        self.calls: list[tuple[int | None, float | None]] = []

    def forward(self, batch: Tensor, state: Tensor | None = None,
                num_iters: int | None = None) -> RecurrentOutput:  # fmt: skip
        self.calls.append((num_iters, None if state is None else float(state)))
        done = float(state) if state is not None else 0.0
        its = self.settles_after if num_iters is None else num_iters
        new = torch.tensor(done + its)
        return RecurrentOutput(self.weight * new, new, torch.tensor([its]), torch.tensor([True]))


def test_progressive_loss_draws_and_detaches() -> None:
    gen = torch.Generator().manual_seed(0)
    draws = []
    for _ in range(300):
        model = Recorder(settles_after=7)
        loss = progressive_loss(model, None, lambda out, b: out, max_iters=10, generator=gen)
        (k, _), (n, start) = model.calls
        assert 0 <= k <= 9 and 1 <= n <= 10 - k and start == k
        assert float(loss.detach()) == k + n  # the output after k + n iterations
        loss.backward()
        assert float(model.weight.grad) == k + n
        draws.append((k, n))
    # The draws fill their ranges: k ~ U{0..9}, then n ~ U{1..10 - k} (in 300 draws each
    # value of k and the extreme n's are all but certain to appear).
    assert {k for k, _ in draws} == set(range(10))
    assert {n for k, n in draws if k == 0} >= {1, 10} and {n for k, n in draws if k == 9} == {1}
    assert abs(np.mean([k for k, _ in draws]) - 4.5) < 4 * 2.87 / np.sqrt(300)
    draws = []
    for _ in range(300):  # settle: read at or after the model's own 7 iterations
        model = Recorder(settles_after=7)
        progressive_loss(model, None, lambda out, b: out, max_iters=10, max_grad_iters=3,
                         settle=True, generator=gen)  # fmt: skip
        (full, _), (k, _), (n, _) = model.calls
        assert full is None and 1 <= n <= 3 and 7 - n <= k <= 17 and k + n >= 7
        draws.append((k, n))
    # n ~ U{1..3}, then k ~ U{7 - n..17}: 4 only after n = 3, and up to 10 past settling.
    assert {n for _, n in draws} == {1, 2, 3} and {k for k, _ in draws} == set(range(4, 18))
    model = Recorder(settles_after=7)
    progressive_loss(model, None, lambda out, b: out, max_iters=5, alpha=0.0, generator=gen)
    assert len(model.calls) == 1 and 1 <= model.calls[0][0] <= 5
    for bad in ({"max_iters": 0}, {"max_iters": 3, "alpha": 1.5},
                {"max_iters": 3, "max_grad_iters": 0}):  # fmt: skip
        with pytest.raises(ValueError):
            progressive_loss(Recorder(1), None, lambda out, b: out, **bad)


@pytest.mark.parametrize("name", ["recurrent", "rg-recurrent"])
def test_progressive_training_step_backpropagates(name: str) -> None:
    torch.manual_seed(0)
    model = sandpile_model(name, hidden_channels=8)
    batch = Batch.from_data_list([AddHierarchy()(avalanche_to_data(s)) for s in samples(8, 3, 4)])
    model.train()
    loss = sandpile_loss("footprint", seed=0)(model, batch)
    loss.backward()
    assert torch.isfinite(loss)
    assert sum(float(p.grad.abs().sum()) for p in model.parameters() if p.grad is not None) > 0


def test_metrics_run_the_model_once_per_batch(tmp_path) -> None:
    data = SandpileAvalanches(str(tmp_path), 8, 6, "footprint", 3, num_workers=0, log=False)
    model = exact_topple_automaton()
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    result = evaluate(model, DataLoader(data, 3), sandpile_metrics("footprint"))
    assert len(calls) == 2  # two batches, four metrics
    assert result["IoU"] == 1.0 and result["exact"] == 1.0 and result["|dlog(1+s)|"] < 1e-6
    durations = torch.cat([b.avalanche_duration for b in DataLoader(data, 3)]).float()
    assert result["iterations"] == pytest.approx(float(durations.mean()) + 1)
    ff = evaluate(sandpile_model("local", hidden_channels=4), DataLoader(data, 3),
                  sandpile_metrics("footprint"))  # fmt: skip
    assert np.isnan(ff["iterations"]) and np.isnan(ff["settled"])  # feed-forward: no iterations
    # A feed-forward predictor of known scores: the true footprint, plus one site that did
    # not topple in the second graph of each batch of 3 (graphs 1 and 4 of 6).
    oracle = FootprintOracle()
    result = evaluate(oracle, DataLoader(data, 3), sandpile_metrics("footprint"))
    sizes = [int((g.toppled > 0).sum()) for g in data]
    expected_iou = [s / (s + 1) if i in (1, 4) else 1.0 for i, s in enumerate(sizes)]
    assert result["exact"] == pytest.approx(4 / 6, abs=1e-12)
    assert result["IoU"] == pytest.approx(np.mean(expected_iou), abs=1e-12)
    assert result["|dlog(1+s)|"] == pytest.approx(0.0, abs=1e-5)  # the extra site counts 0
    assert np.isnan(result["iterations"])


class FootprintOracle(torch.nn.Module):
    """Logit +1 on the toppled sites (log-count log(1 + topplings)), -1 elsewhere; in the
    second graph of the batch, the first site that did not topple gets +1 as well."""

    def forward(self, batch: Batch) -> Tensor:
        toppled = batch.toppled.view(-1) > 0
        logits = toppled.float() * 2 - 1
        second = torch.nonzero((batch.batch == 1) & ~toppled).view(-1)[:1]
        logits[second] = 1.0
        return torch.stack([logits, torch.log1p(batch.topplings.view(-1).float())], dim=1)


def test_footprint_exact_and_lattice_diameter() -> None:
    pred = torch.tensor([1, 0, 1, 1, 0, 0], dtype=torch.bool)
    true = torch.tensor([1, 0, 1, 1, 1, 0], dtype=torch.bool)
    batch = torch.tensor([0, 0, 0, 1, 1, 2])
    assert footprint_exact(pred, true, batch).tolist() == [1.0, 0.0, 1.0]
    graphs = Batch.from_data_list([avalanche_to_data(s) for s in samples(5, 1, 0)]
                                  + [avalanche_to_data(samples(1, 1, 0)[0])])  # fmt: skip
    assert lattice_diameter(graphs).tolist() == [8.0, 1.0]


def test_recurrent_models_refuse_hazards_and_bad_inputs() -> None:
    for name in ("hint", "recurrent", "rg-recurrent"):
        with pytest.raises(ValueError, match="footprints only"):
            sandpile_model(name, "hazard")
    assert isinstance(sandpile_model("hint"), ToppleAutomaton)
    assert isinstance(sandpile_model("recurrent"), FootprintAutomaton)
    assert isinstance(sandpile_model("rg-recurrent"), RGRecurrent)
    model = sandpile_model("recurrent")
    data = avalanche_to_data(samples(4, 1, 0)[0])
    data.x = data.x[:, :5]
    with pytest.raises(ValueError, match=r"data.x must have shape \(N, 6\)"):
        model(data)
    with pytest.raises(ValueError, match="steps_per_graph"):
        ToppleAutomaton().training_loss(Batch.from_data_list([avalanche_to_data(
            samples(4, 1, 0)[0])]), steps_per_graph=0)  # fmt: skip
    assert str(ToppleAutomaton(16)) == "ToppleAutomaton(hidden_channels=16, num_layers=1)"
    assert str(FootprintAutomaton()) == "FootprintAutomaton(state_channels=4, hidden_channels=32)"
    assert str(RGRecurrent()) == "RGRecurrent(state_channels=4, hidden_channels=16, num_layers=1)"
    with pytest.warns(DeprecationWarning, match="num_layers"):
        assert RGRecurrent(depth=2).net.num_layers == 2
