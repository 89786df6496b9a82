"""LatticeConv and RGNet: D4 symmetry, coarse-graining equivariance, batching."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.loader import DataLoader
from torch_geometric.nn import Sequential

from sgnn.data import (
    AddDilatedEdges,
    AddHierarchy,
    coarse_grain_hierarchy,
    lattice_graph,
    sandpile_to_data,
)
from sgnn.nn import LatticeConv, LatticeGNN, RGNet, RGNetOutput
from sgnn.pool import coarse_grain
from sgnn.sandpile import sample_recurrent
from sgnn.testing import (
    assert_coarse_graining_equivariant,
    assert_lattice_symmetric,
    assert_permutation_equivariant,
)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 4), st.sampled_from([1, 2, 4]),
       st.sampled_from(["sum", "mean", "max"]), st.integers(0, 1000))  # fmt: skip
def test_lattice_conv_is_d4_and_permutation_equivariant(h, w, out, dilation, aggr, seed) -> None:
    torch.manual_seed(seed)
    data = sandpile_to_data(sample_recurrent((h, w), seed))
    data.edge_index = lattice_graph((h, w), dilation=dilation)[0]
    conv = LatticeConv(5, out, aggr=aggr)
    # LatticeSymmetry rebuilds the dilated edges consistently: the dilated lattice is D4-symmetric.
    assert_lattice_symmetric(conv, data)
    assert_permutation_equivariant(conv, data)


@pytest.mark.parametrize("aggr", ["sum", "mean", "max"])
@pytest.mark.parametrize("chunk_size", [32768, 5])
def test_lattice_conv_exact_values(aggr: str, chunk_size: int) -> None:
    data = sandpile_to_data(sample_recurrent((3, 4), 0), dtype=torch.float64)
    data.x = data.x + torch.randn_like(data.x)
    conv = LatticeConv(5, 2, hidden_channels=3, aggr=aggr).double()
    conv.edge_chunk_size = chunk_size  # 5 splits the 34 edges into 7 chunks
    x = data.x.clone().requires_grad_()
    out = conv(x, data.edge_index)
    src, dst = data.edge_index
    messages: list[list[torch.Tensor]] = [[] for _ in range(12)]
    for e in range(src.numel()):
        u = torch.cat([x[dst[e]], x[src[e]]])
        messages[int(dst[e])].append(conv.lin_msg(conv.act(conv.lin_pair(u))))
    reduce = {"sum": lambda m: m.sum(0), "mean": lambda m: m.mean(0),
              "max": lambda m: m.max(0).values}[aggr]  # fmt: skip
    ref = x @ conv.lin_root.weight.t() + torch.stack([reduce(torch.stack(m)) for m in messages])
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    grad_out = torch.randn_like(out)
    (g1,) = torch.autograd.grad(out, x, grad_out)
    (g2,) = torch.autograd.grad(ref, x, grad_out)
    torch.testing.assert_close(g1, g2, rtol=0, atol=1e-12)


def test_lattice_conv_in_sequential_with_batches() -> None:
    graphs = [sandpile_to_data(sample_recurrent(s, 0), dtype=torch.float64)
              for s in [(4, 4), (6, 3), (8, 8)]]  # fmt: skip
    model = Sequential("x, edge_index", [
        (LatticeConv(5, 8), "x, edge_index -> x"), torch.nn.SiLU(),
        (LatticeConv(8, 2, aggr="max"), "x, edge_index -> x"),
    ]).double()  # fmt: skip
    batch = next(iter(DataLoader(graphs, batch_size=3)))
    out = model(batch.x, batch.edge_index)
    for i, g in enumerate(graphs):
        torch.testing.assert_close(out[batch.batch == i], model(g.x, g.edge_index),
                                   rtol=0, atol=1e-12)  # fmt: skip
    compiled = torch.compile(LatticeConv(5, 3), backend="aot_eager")
    assert compiled(graphs[0].x.float(), graphs[0].edge_index).shape == (16, 3)


@pytest.mark.parametrize("L", [8, 16, 32, 64, 128])
def test_rgnet_exact_is_coarse_graining_equivariant(L: int) -> None:
    torch.manual_seed(L)
    model = RGNet(5, 12, 3, mode="exact", num_layers=2)
    assert_coarse_graining_equivariant(model, (L, L), atol=1e-10)


def test_rgnet_exact_on_rectangles_and_factor_3() -> None:
    torch.manual_seed(0)
    assert_coarse_graining_equivariant(RGNet(4, 8, 2), (12, 20), atol=1e-10)
    assert_coarse_graining_equivariant(RGNet(4, 8, 2, reduce="sum"), (18, 9), factor=3,
                                       reduce="sum", atol=1e-10)  # fmt: skip


def test_rgnet_with_per_channel_pooling_is_exact_and_the_wrong_p_is_caught() -> None:
    torch.manual_seed(0)
    pool = ("mean", "mean", "sum", "max")
    model = RGNet(4, 8, 2, reduce=pool)
    assert_coarse_graining_equivariant(model, (16, 16), reduce=pool, atol=1e-10)
    with pytest.raises(AssertionError, match="coarse-graining"):
        assert_coarse_graining_equivariant(model, (16, 16), reduce="mean")
    assert_coarse_graining_equivariant(model, (16, 16), atol=1e-10)  # P = model.lift


@pytest.mark.parametrize("shape", [(16, 16), (32, 8)])
def test_rgnet_with_renormalised_pooling_is_exact(shape) -> None:
    torch.manual_seed(0)
    model = RGNet(4, 8, 2, reduce=("mean", "mean", "max", "mean"), renormalize=2.0)
    assert repr(model).endswith("renormalize=2.0)")
    assert_coarse_graining_equivariant(model, shape, atol=1e-10)
    with pytest.raises(AssertionError, match="coarse-graining"):  # plain pooling is not its P
        assert_coarse_graining_equivariant(model, shape, reduce=model.reduce)
    # The lift keeps each graph's mean and scales the block fluctuations by 2.
    x = torch.randn(64, 4, dtype=torch.float64)
    cluster = coarse_grain_hierarchy((8, 8)).cluster[0]
    lifted = model.double().lift(x, cluster)
    plain = coarse_grain(x, cluster, "mean")
    centred = plain[:, 0] - plain[:, 0].mean()
    torch.testing.assert_close(lifted[:, 0] - plain[:, 0].mean(), 2 * centred)
    torch.testing.assert_close(lifted[:, 2], coarse_grain(x[:, 2], cluster, "max"))
    with pytest.raises(ValueError, match="renormalize must be a finite number > 0"):
        RGNet(4, 8, 2, renormalize=0.0)
    with pytest.raises(TypeError, match="renormalize must be a finite number"):
        RGNet(4, 8, 2, renormalize="2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_layers must be an int >= 0"):
        RGNet(4, 8, 2, num_layers=-1)
    with pytest.warns(DeprecationWarning, match="num_layers"):
        assert RGNet(4, 8, 2, depth=1).num_layers == 1


def test_rgnet_renormalises_each_graph_of_a_batch_about_its_own_mean() -> None:
    torch.manual_seed(0)
    model = RGNet(5, 8, 2, renormalize=2.0).double()
    graphs = [AddHierarchy(num_levels=5)(sandpile_to_data(sample_recurrent((L, L), L),
                                                          dtype=torch.float64))
              for L in (16, 12)]  # fmt: skip
    out = model(next(iter(DataLoader(graphs, batch_size=2)))).node
    torch.testing.assert_close(out[256:], model(graphs[1]).node, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="one per feature column"):
        RGNet(4, 8, 2, reduce=("mean", "max"))
    with pytest.raises(ValueError, match="reduce entries"):
        RGNet(2, 8, 2, reduce=("mean", "min"))
    with pytest.raises(ValueError, match="reduce must be one of"):
        RGNet(2, 8, 2, reduce="median")


@pytest.mark.parametrize("dilations", [(1, 1, 1, 1), (1, 2, 4, 8)])
def test_lattice_gnn_is_d4_and_permutation_equivariant_and_batches(dilations) -> None:
    torch.manual_seed(0)
    transform = AddDilatedEdges(dilations)
    model = LatticeGNN(5, 8, 2, dilations)
    data = sandpile_to_data(sample_recurrent((12, 12), 3))
    # LatticeSymmetry rebuilds edge_index only, so the dilated edges are re-added after it.
    assert_lattice_symmetric(model, data, forward=lambda m, d: m(transform(d)))
    assert_permutation_equivariant(model, transform(data), forward=lambda m, d: m(d))
    graphs = [transform(sandpile_to_data(sample_recurrent((L, L), L))) for L in (9, 16)]
    batch = next(iter(DataLoader(graphs, batch_size=2)))
    out = model(batch)
    torch.testing.assert_close(out[batch.batch == 1], model(graphs[1]), rtol=0, atol=1e-5)


def test_lattice_gnn_equals_its_layers_by_hand() -> None:
    torch.manual_seed(1)
    model = LatticeGNN(5, 6, 3, (1, 2)).double()
    data = AddDilatedEdges([2])(sandpile_to_data(sample_recurrent((7, 5), 0), dtype=torch.float64))
    silu = torch.nn.functional.silu
    h = silu(model.encoder[0](data.x))
    h = h + silu(model.convs[0](h, lattice_graph((7, 5))[0]))
    h = h + silu(model.convs[1](h, lattice_graph((7, 5), dilation=2)[0]))
    torch.testing.assert_close(model(data), model.head(h), rtol=0, atol=1e-12)


def test_lattice_gnn_repr_and_errors() -> None:
    assert repr(LatticeGNN(5, 8, 2, [1, 2])) == "LatticeGNN(5, 8, 2, dilations=[1, 2])"
    with pytest.raises(ValueError, match="dilations"):
        LatticeGNN(5, 8, 2, [])
    with pytest.raises(ValueError, match="dilations"):
        LatticeGNN(5, 8, 2, [1, 0])
    data = sandpile_to_data(sample_recurrent((4, 4), 0))
    with pytest.raises(ValueError, match="AddDilatedEdges"):
        LatticeGNN(5, 8, 2, [1, 2])(data)
    with pytest.raises(ValueError, match=r"data.x must have shape \(N, 6\)"):
        LatticeGNN(6, 8, 2)(data)


def test_rgnet_unet_is_not_coarse_graining_equivariant() -> None:
    torch.manual_seed(0)
    with pytest.raises(AssertionError, match="coarse-graining"):
        assert_coarse_graining_equivariant(RGNet(5, 12, 3, mode="unet"), (16, 16))


@pytest.mark.parametrize("mode", ["exact", "unet"])
def test_rgnet_is_d4_and_permutation_equivariant(mode: str) -> None:
    torch.manual_seed(0)
    data = sandpile_to_data(sample_recurrent((16, 16), 1))
    model = RGNet(5, 8, 2, mode=mode, graph_channels=3)
    kinds = ("node", "graph", "ignore")  # levels: not requested, None
    assert_lattice_symmetric(model, data, forward=lambda m, d: m(d), output=kinds,
                             prepare=AddHierarchy())  # fmt: skip
    assert_permutation_equivariant(model, AddHierarchy()(data), forward=lambda m, d: m(d),
                                   output=kinds)  # fmt: skip


def test_same_rgnet_runs_on_any_size_and_batches() -> None:
    torch.manual_seed(0)
    model = RGNet(5, 8, 2, graph_channels=1)
    for L in (16, 512):
        node, graph, levels = model(AddHierarchy()(sandpile_to_data(sample_recurrent((L, L), L))))
        assert node.shape == (L * L, 2) and graph.shape == (1, 1) and levels is None
    transform = AddHierarchy(num_levels=6)
    graphs = [transform(sandpile_to_data(sample_recurrent((L, L), L), dtype=torch.float64))
              for L in (16, 32, 24)]  # fmt: skip
    model = model.double()
    node, graph, _ = model(next(iter(DataLoader(graphs, batch_size=3))))
    offset = 0
    for i, g in enumerate(graphs):
        n_i, g_i, _ = model(g)
        torch.testing.assert_close(node[offset : offset + g.num_nodes], n_i, rtol=0, atol=1e-12)
        torch.testing.assert_close(graph[i : i + 1], g_i, rtol=0, atol=1e-12)
        offset += g.num_nodes


def test_rgnet_repr_and_errors() -> None:
    assert repr(RGNet(5, 8, 2)) == "RGNet(5, 8, 2, mode='exact', num_layers=2)"
    with pytest.raises(ValueError, match="mode"):
        RGNet(5, 8, 2, mode="other")
    with pytest.raises(ValueError, match="hierarchy"):
        RGNet(5, 8, 2)(sandpile_to_data(sample_recurrent((4, 4), 0)))
    mixed = [AddHierarchy()(sandpile_to_data(sample_recurrent((L, L), 0))) for L in (4, 8)]
    with pytest.raises(ValueError, match="num_levels"):
        RGNet(5, 8, 2)(_batch_mixed(mixed))


def _batch_mixed(graphs: list) -> object:
    """A batch whose graphs report different depths (only the keys of the first are kept)."""
    from torch_geometric.data import Batch

    first, second = graphs
    second = second.clone()
    for key in list(second.keys()):
        if key not in first:
            del second[key]
    return Batch.from_data_list([first, second])


def test_rgnet_returns_one_typed_output_whatever_its_options() -> None:
    torch.manual_seed(0)
    data = AddHierarchy()(sandpile_to_data(sample_recurrent((8, 8), 0), dtype=torch.float64))
    for graph_channels in (0, 2):
        model = RGNet(5, 6, 3, graph_channels=graph_channels).double()
        plain, full = model(data), model(data, return_levels=True)
        assert isinstance(plain, RGNetOutput) and isinstance(full, RGNetOutput)
        assert plain.levels is None and len(full.levels) == int(data.num_levels) == 4
        assert [t.shape[0] for t in full.levels] == [64, 16, 4, 1]
        torch.testing.assert_close(full.node, full.levels[0], rtol=0, atol=0)
        torch.testing.assert_close(plain.node, full.node, rtol=0, atol=1e-12)
        assert (plain.graph is None) == (graph_channels == 0)
        if graph_channels:
            assert plain.graph.shape == (1, 2)
