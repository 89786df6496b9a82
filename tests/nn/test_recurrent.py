"""Recurrent and AutomatonConv: the closure of a wave, sparse = dense, batch = graphs, guards."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_torch_coo_tensor

from sgnn.data import lattice_graph, sandpile_to_data
from sgnn.nn import AutomatonConv, Recurrent, RecurrentOutput, graph_diameter_bound
from sgnn.sandpile import avalanche_waves, first_wave, sample_recurrent
from sgnn.testing import assert_lattice_symmetric, assert_permutation_equivariant


def closure_rule(dtype: torch.dtype = torch.float32) -> AutomatonConv:
    r"""The first wave's closure as a linear-threshold rule: [z + o + sum_j s_j >= 4]."""
    conv = AutomatonConv(6, 1, num_layers=1).to(dtype)
    with torch.no_grad():
        weight = torch.zeros_like(conv.lins[0].weight)
        weight[0, :4] = torch.arange(4.0)  # height z from its one-hot code
        weight[0, 5] = 1.0  # the dropped grain
        weight[0, 7] = 1.0  # toppled neighbours (columns: x 0-5, s 6, sum of s 7)
        conv.lins[0].weight.copy_(weight)
        conv.lins[0].bias.fill_(-3.5)
    return conv


def footprint_data(shape: tuple[int, int], seed: int) -> tuple[Data, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    z = sample_recurrent(shape, rng)
    site = int(rng.integers(z.size))
    return sandpile_to_data(z, drop_site=divmod(site, shape[1])), z, site


@settings(max_examples=40, deadline=None)
@given(st.tuples(st.integers(1, 12), st.integers(1, 12)), st.integers(0, 2**31),
       st.booleans())  # fmt: skip
def test_hand_set_closure_reproduces_first_wave(shape: tuple[int, int], seed: int,
                                                sparse: bool) -> None:  # fmt: skip
    data, z, site = footprint_data(shape, seed)
    rec = Recurrent(closure_rule(), 1, update="max", discretize="step")
    with torch.no_grad():
        out = rec(data.x, data.edge_index, sparse=sparse)
    assert isinstance(out, RecurrentOutput)
    expected = first_wave(z, divmod(site, shape[1])).reshape(-1)
    np.testing.assert_array_equal(out.state[:, 0].numpy() > 0.5, expected)
    assert bool(out.converged.all())
    # Iteration t switches on the sites of closure round t - 1; one more finds no change.
    waves = avalanche_waves(z, divmod(site, shape[1]))
    rounds = int(waves.num_rounds()[0]) if waves.num_waves else 0
    assert int(out.iterations[0]) == rounds + 1


def random_rule(seed: int, state: int = 3, update: str = "max",
                discretize: str = "step") -> Recurrent:  # fmt: skip
    """A random rule; with one state channel, a random perturbation of the closure
    rule (a random linear-threshold automaton that spreads in its own way)."""
    torch.manual_seed(seed)
    if state == 1:
        conv = closure_rule()
        with torch.no_grad():
            for p in conv.parameters():
                p.add_(0.4 * torch.randn_like(p))
    else:
        conv = AutomatonConv(6, state, hidden_channels=8)
        with torch.no_grad():  # increments of several units for "add"
            conv.lins[-1].weight.mul_(4.0)
    return Recurrent(conv, state, update=update, discretize=discretize)


KINDS = [("max", "step", 1), ("replace", "step", 1), ("max", "step", 3), ("replace", "step", 3),
         ("replace", "argmax", 3), ("add", "round", 3)]


@pytest.mark.parametrize("kinds", KINDS)
def test_sparse_iteration_equals_dense(kinds: tuple[str, str, int]) -> None:
    longest = 0
    for seed in range(12):
        data, _, _ = footprint_data((9, 7), seed)
        rec = random_rule(seed, state=kinds[2], update=kinds[0], discretize=kinds[1])
        rec.iter_factor = 2.0  # some rules never settle: keep the guard short
        with torch.no_grad():
            dense = rec(data.x, data.edge_index, sparse=False)
            sparse = rec(data.x, data.edge_index, sparse=True)
        torch.testing.assert_close(sparse.state, dense.state, rtol=0, atol=0)
        assert torch.equal(sparse.iterations, dense.iterations)
        assert torch.equal(sparse.converged, dense.converged)
        longest = max(longest, int(dense.iterations[0]))
    assert longest > 3  # the rules did something worth comparing


@pytest.mark.parametrize("sparse", [False, True])
def test_batch_equals_graphs_one_by_one(sparse: bool) -> None:
    graphs = [footprint_data(shape, seed)[0]
              for seed, shape in enumerate([(6, 6), (3, 9), (11, 5), (1, 1)])]  # fmt: skip
    batch = Batch.from_data_list(graphs)
    rec = random_rule(3, state=1)
    rec.iter_factor = 4.0
    diameters = torch.tensor([10.0, 10.0, 14.0, 1.0])
    with torch.no_grad():
        together = rec(batch.x, batch.edge_index, batch.batch, diameter=diameters, sparse=sparse)
        alone = [rec(g.x, g.edge_index, diameter=d, sparse=sparse)
                 for g, d in zip(graphs, diameters, strict=True)]  # fmt: skip
    torch.testing.assert_close(together.state, torch.cat([a.state for a in alone]),
                               rtol=0, atol=0)  # fmt: skip
    assert together.iterations.tolist() == [int(a.iterations[0]) for a in alone]
    assert together.converged.tolist() == [bool(a.converged[0]) for a in alone]
    assert len(set(together.iterations.tolist())) > 1  # graphs stopped at different times


class Counter(torch.nn.Module):
    """Adds one to every node's state at every step: never settles."""

    num_hops = 1

    def forward(self, x: torch.Tensor, state: torch.Tensor, edge_index: torch.Tensor
                ) -> torch.Tensor:  # fmt: skip
        return torch.ones_like(state)


@pytest.mark.parametrize("sparse", [False, True])
def test_iteration_guard_and_convergence_flags(sparse: bool) -> None:
    edge_index, _ = lattice_graph((4, 4))
    x = torch.zeros(16, 1)
    rec = Recurrent(Counter(), 1, update="add", iter_factor=2.5)
    with torch.no_grad():
        out = rec(x, edge_index, diameter=6, sparse=sparse)
    assert out.iterations.tolist() == [15] and out.converged.tolist() == [False]
    torch.testing.assert_close(out.state, torch.full((16, 1), 15.0))
    capped = Recurrent(Counter(), 1, update="add", max_iters=4)
    with torch.no_grad():
        assert capped(x, edge_index, diameter=6, sparse=sparse).iterations.tolist() == [4]
    # An exact number of iterations ignores convergence and the budget.
    settled = Recurrent(Counter(), 1, update="max")
    with torch.no_grad():
        out = settled(x, edge_index, num_iters=40, sparse=sparse)
    assert out.iterations.tolist() == [40] and out.converged.tolist() == [True]
    with torch.no_grad():
        out = settled(x, edge_index, diameter=6, sparse=sparse)
    assert out.iterations.tolist() == [2] and out.converged.tolist() == [True]


def test_num_iters_steps_and_callback() -> None:
    data, _, _ = footprint_data((8, 8), 5)
    rec = Recurrent(closure_rule(), 1, update="max", discretize="step")
    seen: list[tuple[int, float]] = []
    with torch.no_grad():
        out = rec(data.x, data.edge_index, num_iters=3,
                  callback=lambda t, s: seen.append((t, float(s.sum()))))  # fmt: skip
        later = rec(data.x, data.edge_index, state=out.state, num_iters=100)
        full = rec(data.x, data.edge_index)
    assert [t for t, _ in seen] == [1, 2, 3]
    assert all(a <= b for (_, a), (_, b) in itertools.pairwise(seen))  # monotone
    torch.testing.assert_close(later.state, full.state)
    assert out.iterations.tolist() == [3]


def test_groups_init_and_head() -> None:
    torch.manual_seed(0)
    edge_index, _ = lattice_graph((3, 3))
    x = torch.randn(9, 2)
    init = torch.nn.Linear(2, 4)
    rec = Recurrent(AutomatonConv(2, 4, hidden_channels=6), (3, 1), init=init,
                    head=lambda x, s: s[:, :3].argmax(1),  # type: ignore[arg-type]
                    update=("replace", "add"), discretize=("argmax", "round"), max_iters=5)
    with torch.no_grad():
        out = rec(x, edge_index, num_iters=2)
        s0 = rec.initial_state(x)
    assert torch.all(s0[:, :3].sum(1) == 1) and torch.equal(s0[:, 3], torch.round(s0[:, 3]))
    assert torch.all(out.state[:, :3].sum(1) == 1)  # one-hot after every step
    assert torch.equal(out.state[:, 3], torch.round(out.state[:, 3]))
    assert torch.equal(out.node, out.state[:, :3].argmax(1))
    with pytest.warns(DeprecationWarning, match="node"):
        assert out.output is out.node  # the 0.3 name, until 0.5


def test_straight_through_gradients_reach_the_rule() -> None:
    data, _, _ = footprint_data((8, 8), 1)
    for kinds in (("max", "step"), ("replace", "argmax"), ("add", "round")):
        rec = random_rule(0, update=kinds[0], discretize=kinds[1])
        out = rec(data.x, data.edge_index, num_iters=3)
        out.state.pow(2).sum().backward()
        grads = [p.grad for p in rec.parameters()]
        assert all(g is not None for g in grads), kinds
        assert sum(float(g.abs().sum()) for g in grads) > 0, kinds


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31), st.tuples(st.integers(2, 7), st.integers(2, 7)))
def test_recurrence_is_permutation_and_d4_equivariant(seed: int, shape: tuple[int, int]) -> None:
    data, _, _ = footprint_data(shape, seed)
    rec = random_rule(seed % 100, state=1 + seed % 3)
    kinds = ("node", "node", "graph", "graph")  # output, state, iterations, converged
    assert_permutation_equivariant(rec, data, output=kinds)
    assert_lattice_symmetric(rec, data, output=kinds)


def test_automaton_conv_against_dense_reference_and_sparse_adjacency() -> None:
    torch.manual_seed(0)
    data, _, _ = footprint_data((4, 5), 2)
    for aggr in ("sum", "mean", "max"):
        conv = AutomatonConv(6, 3, 2, hidden_channels=5, num_layers=3, aggr=aggr).double()
        x, s = data.x.double(), torch.rand(20, 3, dtype=torch.float64)
        out = conv(x, s, data.edge_index)
        adj = torch.zeros(20, 20, dtype=torch.bool)
        adj[data.edge_index[1], data.edge_index[0]] = True  # row = target
        rows = []
        for i in range(20):
            nbrs = s[adj[i]]
            agg = {"sum": nbrs.sum(0), "mean": nbrs.mean(0), "max": nbrs.max(0).values}[aggr]
            h = torch.cat([x[i], s[i], agg])
            for k, lin in enumerate(conv.lins):
                h = lin(h)
                h = conv.act(h) if k < 2 else h
            rows.append(h)
        torch.testing.assert_close(out, torch.stack(rows), rtol=0, atol=1e-12)
        if aggr == "sum":
            adj_t = to_torch_coo_tensor(data.edge_index.flip(0), size=(20, 20)).double()
            torch.testing.assert_close(conv(x, s, adj_t), out, rtol=0, atol=1e-12)
    assert str(AutomatonConv(6, 3)) == ("AutomatonConv(6, 3, 3, hidden_channels=32, "
                                        "num_layers=2, aggr=sum)")  # fmt: skip


def test_bad_arguments() -> None:
    conv = AutomatonConv(6, 2)
    x, s = torch.zeros(4, 6), torch.zeros(4, 2)
    edge_index, _ = lattice_graph((2, 2))
    with pytest.raises(ValueError, match=r"edge_index must have shape \(2, E\).*transpose"):
        conv(x, s, edge_index.t())
    with pytest.raises(ValueError, match=r"node indices in 0\.\.3"):
        conv(x, s, edge_index + 1)
    with pytest.raises(TypeError, match="integer node indices"):
        conv(x, s, edge_index.float())
    with pytest.raises(ValueError, match=r"state must have shape \(N, 2\)"):
        conv(x, s[:, :1], edge_index)
    with pytest.raises(ValueError, match=r"x must have shape \(4, 6\)"):
        conv(x[:3], s, edge_index)
    with pytest.raises(ValueError, match="state_channels must be >= 1"):
        AutomatonConv(6, 0)
    with pytest.raises(ValueError, match="in_channels must be >= 0"):
        AutomatonConv(-1, 2)
    with pytest.raises(ValueError, match="aggr"):
        AutomatonConv(6, 2, aggr="median")
    with pytest.raises(ValueError, match="update"):
        Recurrent(conv, 2, update="min")
    with pytest.raises(ValueError, match="discretize"):
        Recurrent(conv, (1, 1), discretize=("step",))
    with pytest.raises(ValueError, match="state_channels"):
        Recurrent(conv, 0)
    with pytest.raises(ValueError, match="iter_factor"):
        Recurrent(conv, 2, iter_factor=float("nan"))
    with pytest.raises(ValueError, match="max_iters must be an int >= 1 or None"):
        Recurrent(conv, 2, max_iters=0)
    with pytest.raises(TypeError, match="max_iters must be an int"):
        Recurrent(conv, 2, max_iters=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="state_channels must be an int"):
        Recurrent(conv, 2.0)  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning, match="max_iters"):
        assert Recurrent(conv, 2, max_iter=3).max_iters == 3
    with pytest.raises(TypeError, match="block"):
        Recurrent(lambda x: x, 2)  # type: ignore[arg-type]
    rec = Recurrent(conv, 2)
    with pytest.raises(ValueError, match="num_iters"):
        rec(x, edge_index, num_iters=-1)
    with pytest.raises(ValueError, match="batch"):
        rec(x, edge_index, batch=torch.tensor([1, 0, 0, 0]))
    with pytest.raises(ValueError, match="diameter"):
        rec(x, edge_index, diameter=torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="state must have shape"):
        rec(x, edge_index, state=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="sparse iteration passes only edge_attr"):
        with torch.no_grad():
            rec(x, edge_index, sparse=True, extra=1)
    assert "Recurrent(AutomatonConv(6, 2, 2" in str(rec)


def test_graph_diameter_bound() -> None:
    edge_index, _ = lattice_graph((5, 8))
    # Twice the eccentricity of the corner node 0, which on a lattice is the diameter.
    assert graph_diameter_bound(edge_index).tolist() == [2 * 11.0]
    path = torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])
    batch = torch.tensor([0, 0, 0, 1, 1])
    assert graph_diameter_bound(path, batch).tolist() == [4.0, 2.0]
    broken = torch.tensor([[0, 1], [1, 0]])
    assert graph_diameter_bound(broken, torch.zeros(3, dtype=torch.long)).tolist() == [3.0]


@pytest.mark.parametrize("sparse", [False, True])
def test_a_non_finite_state_is_reported_with_its_graph_and_iteration(sparse: bool) -> None:
    """NaN in x once ran the whole budget and came back "not converged"; a step
    discretisation even hid it ([NaN > 0] is 0)."""
    torch.manual_seed(0)
    edge_index, _ = lattice_graph((3, 3))
    edges = torch.cat([edge_index, edge_index + 9], dim=1)
    batch = torch.arange(2).repeat_interleave(9)
    x = torch.randn(18, 6)
    rec = Recurrent(AutomatonConv(6, 2, hidden_channels=4), 2, update="max", discretize="step",
                    max_iters=50, num_hops=1)  # fmt: skip
    with torch.no_grad():
        assert rec(x, edges, batch, sparse=sparse).converged.all()
        bad = x.clone()
        bad[13, 2] = float("nan")
        with pytest.raises(ValueError, match="state of graph 1 became non-finite "
                           r"\(NaN or inf\) at iteration 1"):  # fmt: skip
            rec(bad, edges, batch, sparse=sparse)
        state = torch.zeros(18, 2)
        state[2, 0] = float("inf")
        plain = Recurrent(AutomatonConv(6, 2, hidden_channels=4), 2, max_iters=50, num_hops=1)
        with pytest.raises(ValueError, match="state of graph 0 became non-finite"):
            plain(x, edges, batch, state=state, sparse=sparse)


def test_a_block_of_another_width_than_the_state_is_refused() -> None:
    edge_index, _ = lattice_graph((3, 3))
    with pytest.raises(ValueError, match="block returns out_channels=3 per node but "
                       "state_channels is 4"):  # fmt: skip
        Recurrent(AutomatonConv(2, 4, out_channels=3), 4)

    class Narrow(torch.nn.Module):  # no out_channels: found at the first iteration
        def forward(self, x: torch.Tensor, state: torch.Tensor, edge_index: torch.Tensor
                    ) -> torch.Tensor:  # fmt: skip
            return state[:, :3]

    with pytest.raises(ValueError, match=r"the block must return one row of state_channels=4 "
                       r"per node, shape \(9, 4\), got \(9, 3\)"):  # fmt: skip
        Recurrent(Narrow(), 4)(torch.randn(9, 2), edge_index)
