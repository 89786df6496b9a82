"""Verified local rules: the toppling rule's whole local domain, the verifier that catches a
single wrong case, snapping, the restart path, and exactness at L = 512 and 1024."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from sgnn.data import avalanche_to_data
from sgnn.sandpile import add_grain, sample_recurrent
from sgnn.tasks import (
    LocalCases,
    RuleVerification,
    ToppleAutomaton,
    multisets,
    snap_rule,
    star_graphs,
    topple_cases,
    train_sandpile_model,
    train_until_verified,
    verify_rule,
)
from sgnn.tasks.sandpile_rules import HEIGHT_BITS, footprint_inputs, start_inputs, thermometer


def exact_hint() -> ToppleAutomaton:
    """The hint model with the weights of the toppling rule: h' = sum b - 4 b_4 + sum_j b_4j,
    c = b_4; initial height z + o."""
    model = ToppleAutomaton()
    with torch.no_grad():
        weight = model.rule.lins[0].weight  # columns: own bits 1..7, neighbour sums 1..7
        weight.zero_()
        model.rule.lins[0].bias.zero_()
        weight[0, 3], weight[0, HEIGHT_BITS + 3], weight[1, 3] = -4.0, 1.0, 1.0
        model.start.weight.zero_()
        model.start.bias.zero_()
        model.start.weight[0, :4] = torch.arange(4.0)
        model.start.weight[0, 5] = 1.0
    return model


def test_multisets_and_star_graphs() -> None:
    got = multisets(8, 4)
    assert len(got) == sum(math.comb(8 + d - 1, d) for d in range(5)) == 495
    assert len(set(got)) == len(got) and all(list(m) == sorted(m) for m in got)
    state, edge_index, center = star_graphs(torch.tensor([[1.0], [2.0]]),
                                            [torch.tensor([[5.0], [6.0]]), torch.zeros(0, 1)],
                                            [2, 0])  # fmt: skip
    assert state.view(-1).tolist() == [1.0, 5.0, 6.0, 2.0] and center.tolist() == [0, 3]
    assert sorted(map(tuple, edge_index.t().tolist())) == [(0, 1), (0, 2), (1, 0), (2, 0)]
    with pytest.raises(ValueError, match="one neighbour_states entry"):
        star_graphs(torch.zeros(2, 1), [torch.zeros(1, 1)], [1, 1])


def test_topple_cases_enumerate_the_whole_domain_with_the_true_rule() -> None:
    cases = topple_cases()
    assert isinstance(cases, LocalCases) and cases.num_cases == 8 * 495 + 40
    degree = torch.bincount(cases.edge_index[1], minlength=cases.state.size(0))[cases.center]
    heights = cases.state[:, :HEIGHT_BITS].sum(1)
    seen = set()
    for c, centre in enumerate(cases.center.tolist()):
        d = int(degree[c])
        neighbours = heights[centre + 1 : centre + 1 + d].long().tolist()
        h = int(heights[centre])
        seen.add((h, tuple(sorted(neighbours))))
        # The true rule, written out again: topple at 4, receive one grain per toppling neighbour.
        after = h - 4 * (h >= 4) + sum(v >= 4 for v in neighbours)
        expected = thermometer(torch.tensor([after]))[0]
        assert cases.target[c, :HEIGHT_BITS].tolist() == expected.tolist()
        assert cases.target[c, HEIGHT_BITS] == (h >= 4)
    assert seen == {(h, m) for h in range(8) for m in multisets(8, 4)}
    assert int(cases.target[:, :HEIGHT_BITS].sum(1).max()) == 7  # the domain is closed
    x, height, drop = start_inputs()
    assert x.shape == (40, 6) and torch.equal(x, footprint_inputs(height, x[:, 4], drop))
    assert cases.start_target[:, :HEIGHT_BITS].sum(1).tolist() == (height + drop).tolist()


def test_verifier_passes_the_exact_rule_and_catches_one_wrong_case() -> None:
    model = exact_hint()
    result = verify_rule(model)
    assert result.passed and result.num_wrong == 0 and str(result).startswith("verified: yes")
    cases = model.local_cases()
    # The counter's increment moved by 0.15 per neighbour at 7, less 0.2 where the centre is
    # not empty: it rounds wrong only at height 0 with four neighbours at 7, one case of 4000.
    with torch.no_grad():
        model.rule.lins[0].weight[1, HEIGHT_BITS + 6] = 0.15
        model.rule.lins[0].weight[1, 0] = -0.2
    result = verify_rule(model)
    assert result.num_wrong == 1 and str(result) == "verified: no (1 of 4000 local cases wrong)"
    wrong = int(cases.center[result.wrong[0]])
    assert cases.state[wrong : wrong + 5, :HEIGHT_BITS].sum(1).tolist() == [0, 7, 7, 7, 7]
    # The initial state is checked too.
    model = exact_hint()
    with torch.no_grad():
        model.start.weight[0, 4] = 0.3  # missing neighbours: wrong only with 2 or more
    result = verify_rule(model)
    assert result.num_wrong == 4 * 3 * 2 and bool((result.wrong >= 3960).all())
    with pytest.raises(TypeError, match="local domain"):
        verify_rule(torch.nn.Linear(2, 2))


def test_snap_rounds_a_nearly_exact_rule_to_the_exact_one_and_leaves_a_wrong_one() -> None:
    model = exact_hint()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.rand_like(p) - 0.1)
    assert not verify_rule(model).passed
    assert snap_rule(model).passed
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), exact_hint().parameters(),
                                                 strict=True))  # fmt: skip
    broken = exact_hint()
    with torch.no_grad():
        broken.rule.lins[0].weight[0, 3] = -3.0  # a toppling site loses 3 grains
    before = [p.clone() for p in broken.parameters()]
    result = snap_rule(broken)
    assert not result.passed and result.num_wrong > 0
    assert all(torch.equal(p, q) for p, q in zip(broken.parameters(), before, strict=True))
    with pytest.raises(ValueError, match="grids"):
        snap_rule(exact_hint(), grids=(0.0,))


def test_train_until_verified_restarts_with_the_next_seed() -> None:
    calls, lines = [], []

    def train(model: ToppleAutomaton, seed: int) -> str:
        calls.append(seed)
        exact = exact_hint()
        model.load_state_dict(exact.state_dict())
        if seed < 12:  # the first two attempts learn a rule wrong at height 7
            with torch.no_grad():
                model.rule.lins[0].weight[0, 6] = 1.7  # no grid rounds it to 0
        return f"history {seed}"

    model, history, result, attempts = train_until_verified(
        lambda seed: ToppleAutomaton(), train, seed=10, restarts=3, print_fn=lines.append
    )
    assert calls == [10, 11, 12] and attempts == 3 and history == "history 12"
    assert verify_rule(model).passed
    assert result.passed and isinstance(result, RuleVerification)
    assert lines[0] == "attempt 1 of 4 (seed 10): verified: no (460 of 4000 local cases wrong)"
    assert lines[2].endswith("verified: yes (0 of 4000 local cases wrong)")
    # Bounded: every attempt fails, the last model is returned with its verification.
    _, _, result, attempts = train_until_verified(
        lambda seed: ToppleAutomaton(), lambda model, seed: None, restarts=1
    )
    assert attempts == 2 and not result.passed
    with pytest.raises(ValueError, match="restarts"):
        train_until_verified(lambda seed: ToppleAutomaton(), train, restarts=-1)


@pytest.mark.parametrize("size", [512, 1024])
def test_a_verified_rule_is_exact_on_large_lattices(size: int) -> None:
    """Every toppling count of avalanches at L = 512 and 1024, from the verified rule: the
    largest of 20 candidate avalanches of a stationary pile that lasts at most 150 steps
    (the cost of the test grows with the duration), and the smallest."""
    model = exact_hint().eval()
    assert verify_rule(model).passed
    rng = np.random.default_rng(size)
    z = sample_recurrent((size, size), rng)
    candidates = rng.choice(np.flatnonzero(z.reshape(-1) == 3), 20, replace=False)
    avalanches = [add_grain(z.copy(), divmod(int(site), size)) for site in candidates]
    short = [k for k, a in enumerate(avalanches) if a.duration <= 150]
    largest = max(short, key=lambda k: avalanches[k].size)
    assert avalanches[largest].size > size  # more topplings than the lattice's side
    for k in (largest, min(short, key=lambda k: avalanches[k].size)):
        a = avalanches[k]
        sample = {"z": z, "site": int(candidates[k]), "topplings": a.topplings, "size": a.size,
                  "area": a.area, "duration": a.duration, "radius": a.radius}  # fmt: skip
        data = avalanche_to_data(sample)
        with torch.no_grad():
            out = model(Batch.from_data_list([data]))
        assert bool(out.converged.all()) and int(out.iterations) == a.duration + 1
        assert torch.equal(out.state[:, HEIGHT_BITS], data.topplings.float())


def test_local_rules_bad_input() -> None:
    with pytest.raises(TypeError, match="local domain"):
        snap_rule(torch.nn.Linear(1, 1))
    assert list(itertools.islice(multisets(2, 1), 3)) == [(), (0,), (1,)]
    for values, max_size, name in ((0, 2, "values"), (2, -1, "max_size"), (2.0, 1, "values")):
        with pytest.raises(ValueError, match=name):
            multisets(values, max_size)
    with pytest.raises(ValueError, match="train_sets"):
        train_sandpile_model(ToppleAutomaton(), [], [], epochs=1, lr=0.1)
