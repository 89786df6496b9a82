"""DeepSetsLayer, PairwiseSetConv and SetReadout."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data
from torch_geometric.nn import Sequential
from torch_geometric.utils import scatter

from sgnn.nn import DeepSetsLayer, PairwiseSetConv, SetReadout
from sgnn.testing import assert_permutation_equivariant


def set_batch(sizes: list[int], channels: int, seed: int) -> Data:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(sum(sizes), channels, generator=g, dtype=torch.float64)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    return Data(x=x, batch=batch, num_nodes=x.size(0))


sizes = st.lists(st.integers(1, 12), min_size=1, max_size=4)


@settings(max_examples=30, deadline=None)
@given(sizes, st.integers(1, 5), st.integers(1, 5), st.sampled_from(["sum", "mean", "max"]),
       st.integers(0, 10**6))  # fmt: skip
def test_deepsets_equivariant_and_exact(sizes, fin, fout, aggr, seed) -> None:
    data = set_batch(sizes, fin, seed)
    layer = DeepSetsLayer(fin, fout, aggr=aggr).double()
    assert_permutation_equivariant(layer, data)
    out = layer(data.x, batch=data.batch)
    pooled = scatter(data.x, data.batch, 0, reduce=aggr)[data.batch]
    ref = data.x @ layer.lin_self.weight.t() + layer.lin_self.bias
    ref = ref + pooled @ layer.lin_set.weight.t()
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)


def brute_pairwise(layer: PairwiseSetConv, x: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """Loops over every ordered pair (i, j != i) of every set."""
    out = []
    for i in range(x.size(0)):
        msgs = []
        for j in range(x.size(0)):
            if j != i and batch[j] == batch[i]:
                u = torch.cat([x[i], x[j], x[i] - x[j]])
                msgs.append(layer.lin_msg(layer.act(layer.lin_pair(u))))
        agg = torch.zeros(layer.out_channels, dtype=x.dtype)
        if msgs:
            m = torch.stack(msgs)
            agg = {"sum": m.sum(0), "mean": m.mean(0), "max": m.max(0).values}[layer.aggr]
        out.append(layer.lin_root(x[i]) + agg)
    return torch.stack(out)


@settings(max_examples=25, deadline=None)
@given(sizes, st.integers(1, 4), st.sampled_from(["sum", "mean", "max"]),
       st.one_of(st.none(), st.integers(1, 5)), st.integers(0, 10**6))  # fmt: skip
def test_pairwise_matches_brute_force(sizes, fin, aggr, chunk, seed) -> None:
    data = set_batch(sizes, fin, seed)
    layer = PairwiseSetConv(fin, 3, hidden_channels=6, aggr=aggr, target_chunk_size=chunk).double()
    layer.pair_budget = 64  # automatic chunks (target_chunk_size=None) of one or a few targets
    ref = brute_pairwise(layer, data.x, data.batch)
    torch.testing.assert_close(layer(data.x, batch=data.batch), ref, rtol=0, atol=1e-12)
    # The sparse path on the complete graph of each set gives the same.
    i, j = torch.meshgrid(torch.arange(data.num_nodes), torch.arange(data.num_nodes), indexing="ij")
    keep = (data.batch[i] == data.batch[j]) & (i != j)
    edge_index = torch.stack([j[keep], i[keep]])
    torch.testing.assert_close(layer(data.x, edge_index=edge_index), ref, rtol=0, atol=1e-12)
    assert_permutation_equivariant(layer, data)


@pytest.mark.parametrize("aggr", ["max", "mean"])
def test_pairwise_on_large_sets_matches_all_pairs_at_once(aggr: str) -> None:
    # Sets of 300 and 257 take the folded maximum (n >= 256, F' = 5) and the padding path.
    data = set_batch([300, 257], 2, 1)
    layer = PairwiseSetConv(2, 5, hidden_channels=4, aggr=aggr).double()
    ref = []
    for x in (data.x[data.batch == b] for b in range(2)):
        n = x.size(0)
        xi, xj = x[:, None].expand(n, n, -1), x[None, :].expand(n, n, -1)
        m = layer.lin_msg(layer.act(layer.lin_pair(torch.cat([xi, xj, xi - xj], dim=2))))
        off = ~torch.eye(n, dtype=torch.bool)
        agg = (m.masked_fill(~off[..., None], float("-inf")).amax(1) if aggr == "max"
               else (m * off[..., None]).sum(1) / (n - 1))  # fmt: skip
        ref.append(layer.lin_root(x) + agg)
    torch.testing.assert_close(layer(data.x, batch=data.batch), torch.cat(ref), rtol=0, atol=1e-12)


def test_pairwise_checkpoint_gives_same_gradients() -> None:
    data = set_batch([40, 7], 3, 0)
    plain = PairwiseSetConv(3, 4, target_chunk_size=8).double()
    ckpt = PairwiseSetConv(3, 4, target_chunk_size=8, gradient_checkpointing=True).double()
    ckpt.load_state_dict(plain.state_dict())
    for layer in (plain, ckpt):
        layer(data.x, batch=data.batch).pow(2).sum().backward()
    for a, b in zip(plain.parameters(), ckpt.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad)


@pytest.mark.parametrize("aggr", ["sum", "mean", "max", "attention"])
def test_set_readout_invariant_and_exact(aggr: str) -> None:
    data = set_batch([3, 9, 1], 4, 1)
    readout = SetReadout(4, aggr).double()
    assert_permutation_equivariant(readout, data, output="graph")
    out = readout(data.x, data.batch)
    assert out.shape == (3, 4)
    if aggr != "attention":
        torch.testing.assert_close(out, scatter(data.x, data.batch, 0, reduce=aggr))
    else:  # convex combinations of each set's elements
        torch.testing.assert_close(out[2], data.x[-1])


def test_pyg_sequential_and_batches() -> None:
    graphs = [set_batch([n], 3, n) for n in (4, 9, 2)]
    for g in graphs:
        del g.batch
    batch = Batch.from_data_list(graphs)
    # PyG's order: edge_index (None: the complete graph of each set) before batch.
    model = Sequential("x, edge_index, batch", [
        (DeepSetsLayer(3, 8), "x, batch -> x"),
        torch.nn.ReLU(),
        (PairwiseSetConv(8, 8), "x, edge_index, batch -> x"),
        (SetReadout(8, "attention"), "x, batch -> x"),
    ]).double()  # fmt: skip
    out = model(batch.x, None, batch.batch)
    assert out.shape == (3, 8)
    for i, g in enumerate(graphs):
        single = model(g.x, None, torch.zeros(g.num_nodes, dtype=torch.long))
        torch.testing.assert_close(out[i : i + 1], single, rtol=0, atol=1e-12)


def test_compile_and_float32() -> None:
    x = torch.randn(30, 3)
    batch = torch.tensor([0] * 10 + [1] * 20)
    for layer in (DeepSetsLayer(3, 5), PairwiseSetConv(3, 5, target_chunk_size=7)):
        eager = layer(x, batch=batch)
        assert eager.dtype == torch.float32 and eager.shape == (30, 5)
        compiled = torch.compile(layer, backend="aot_eager")
        torch.testing.assert_close(compiled(x, batch=batch), eager)


def test_reprs_and_errors() -> None:
    assert repr(DeepSetsLayer(3, 5)) == "DeepSetsLayer(3, 5, aggr=mean)"
    assert repr(PairwiseSetConv(3, 5)) == "PairwiseSetConv(3, 5, hidden_channels=5, aggr=max)"
    assert repr(SetReadout(3, "max")) == "SetReadout(3, aggr=max)"
    with pytest.raises(ValueError, match="aggr"):
        DeepSetsLayer(3, 5, aggr="median")
    with pytest.raises(ValueError, match="aggr"):
        PairwiseSetConv(3, 5, aggr="median")
    with pytest.raises(ValueError, match="chunk_size"):
        PairwiseSetConv(3, 5, target_chunk_size=0)
    with pytest.raises(ValueError, match="aggr"):
        SetReadout(3, "median")
    with pytest.raises(ValueError, match="x must have shape"):
        DeepSetsLayer(3, 5)(torch.randn(4, 2))
    with pytest.raises(ValueError, match="x must have shape"):
        PairwiseSetConv(3, 5)(torch.randn(4, 2))
