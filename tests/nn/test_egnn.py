"""EGNNConv and EGNN: dense reference, E(n) equivariance, options, PyG integration."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data

from sgnn.data import particles_to_data
from sgnn.nn import EGNN, EGNNConv
from sgnn.testing import assert_en_equivariant, assert_permutation_equivariant


def dense_egnn_reference(conv: EGNNConv, h: torch.Tensor, x: torch.Tensor,
                         adj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """The EGNN layer written all-pairs, from the paper's equations, in plain torch.

    adj[i, j] = 1 when j sends a message to i. All options off."""
    n = h.size(0)
    hi = h[:, None, :].expand(n, n, -1)  # receiver i
    hj = h[None, :, :].expand(n, n, -1)  # sender j
    diff = x[:, None, :] - x[None, :, :]  # x_i - x_j
    d2 = (diff**2).sum(-1, keepdim=True)
    m = conv.edge_mlp(conv.edge_lin1(torch.cat([hi, hj, d2], dim=-1)))
    mask = adj[..., None]
    coord = (diff * conv.coord_mlp(m) * mask).sum(1)
    agg = (m * mask).sum(1)
    return conv.node_mlp(torch.cat([h, agg], dim=1)), x + coord


def random_graph(n: int, dim: int, k: int, seed: int, dtype=torch.float64) -> Data:
    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(n, dim, generator=g, dtype=dtype)
    data = particles_to_data(pos, graph="knn", k=min(k, n - 1), dtype=dtype)
    del data.edge_attr  # displacements are not invariant edge features
    return data


@pytest.mark.parametrize("seed", range(3))
def test_egnn_conv_matches_dense_reference(seed: int) -> None:
    torch.manual_seed(seed)
    data = random_graph(25, 3, 6, seed)
    h = torch.randn(25, 7, dtype=torch.float64)
    conv = EGNNConv(7, 5, 11, residual=False).double()
    torch.nn.init.normal_(conv.coord_mlp[-1].weight)  # make coordinate updates visible
    adj = torch.zeros(25, 25, dtype=torch.float64)
    adj[data.edge_index[1], data.edge_index[0]] = 1
    ref_h, ref_x = dense_egnn_reference(conv, h, data.pos, adj)
    out_h, out_x = conv(h, data.pos, data.edge_index)
    torch.testing.assert_close(out_h, ref_h, rtol=0, atol=1e-10)
    torch.testing.assert_close(out_x, ref_x, rtol=0, atol=1e-10)
    assert (out_x - data.pos).abs().max() > 1e-3  # the test has power


OPTIONS = [
    {},
    {"normalize": True},
    {"tanh": True, "coord_scale": 0.5},
    {"attention": True},
    {"coord_aggr": "mean"},
    {"residual": False},
    {"normalize": True, "tanh": True, "attention": True, "coord_aggr": "mean"},
]


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.sampled_from([2, 3, 5]), st.integers(1, 6),
       st.sampled_from(OPTIONS), st.integers(0, 10**6), st.booleans())  # fmt: skip
def test_egnn_conv_is_en_equivariant(n, dim, channels, options, seed, with_edge_attr) -> None:
    torch.manual_seed(seed)
    data = random_graph(n, dim, 5, seed)
    data.x = torch.randn(n, channels, dtype=torch.float64)
    edge_dim = 0
    if with_edge_attr:  # invariant edge attributes: distances
        src, dst = data.edge_index
        data.edge_attr = (data.pos[dst] - data.pos[src]).norm(dim=1, keepdim=True)
        edge_dim = 1
    out = channels if options.get("residual", True) else channels + 1
    conv = EGNNConv(channels, out, 8, edge_dim=edge_dim, **options)
    torch.nn.init.normal_(conv.coord_mlp[-1].weight)
    assert_en_equivariant(conv, data, output=("node", "position"))


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_egnn_vel_is_en_equivariant(dim: int) -> None:
    data = random_graph(20, dim, 5, dim)
    data.x = torch.randn(20, 4, dtype=torch.float64)
    data.vel = torch.randn(20, dim, dtype=torch.float64)
    conv = EGNNConv(4, 4, 8, velocity=True)
    assert_en_equivariant(conv, data, output=("node", "position", "vector"))
    _, x, v = conv.double()(data.x, data.pos, data.edge_index, vel=data.vel)
    # x' = x + v' in the velocity variant
    torch.testing.assert_close(x, data.pos + v)


def test_egnn_conv_periodic_box_uses_minimum_image() -> None:
    box = torch.tensor([4.0, 4.0], dtype=torch.float64)
    pos = torch.tensor([[0.1, 1.0], [3.9, 1.0]], dtype=torch.float64)
    edge_index = torch.tensor([[0, 1], [1, 0]])
    h = torch.randn(2, 3, dtype=torch.float64)
    conv = EGNNConv(3, 3, 8, box=box).double()
    torch.nn.init.normal_(conv.coord_mlp[-1].weight)
    _, x = conv(h, pos, edge_index)
    shifted = pos.clone()
    shifted[1, 0] -= 4.0  # the same configuration, one image closer
    plain = EGNNConv(3, 3, 8).double()
    plain.load_state_dict({k: v for k, v in conv.state_dict().items() if k != "box"})
    _, x_ref = plain(h, shifted, edge_index)
    torch.testing.assert_close(x[0], x_ref[0])
    torch.testing.assert_close(torch.remainder(x[1] - x_ref[1], 4.0),
                               torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)  # fmt: skip
    # Translations by any vector commute with the periodic layer (mod the box).
    t = torch.tensor([1.3, -2.2], dtype=torch.float64)
    _, xt = conv(h, pos + t, edge_index)
    diff = torch.remainder(xt - (x + t) + 2.0, 4.0) - 2.0
    torch.testing.assert_close(diff, torch.zeros_like(diff), atol=1e-12, rtol=0)


def test_batch_equals_graphs_one_by_one() -> None:
    torch.manual_seed(0)
    graphs = []
    for n in (5, 12, 30):
        d = random_graph(n, 3, 4, n)
        d.x = torch.randn(n, 6, dtype=torch.float64)
        graphs.append(d)
    batch = Batch.from_data_list(graphs)
    conv = EGNNConv(6, 6, 16, attention=True, coord_aggr="mean").double()
    h, x = conv(batch.x, batch.pos, batch.edge_index)
    for i, d in enumerate(graphs):
        hi, xi = conv(d.x, d.pos, d.edge_index)
        mask = batch.batch == i
        torch.testing.assert_close(h[mask], hi, rtol=0, atol=1e-12)
        torch.testing.assert_close(x[mask], xi, rtol=0, atol=1e-12)


def test_egnn_model_outputs_and_equivariance() -> None:
    data = random_graph(15, 3, 5, 1)
    data.x = torch.randn(15, 3, dtype=torch.float64)
    data.vel = torch.randn(15, 3, dtype=torch.float64)
    model = EGNN(3, 16, num_layers=3, out_channels=2, graph_channels=4, velocity=True)
    out = model.double()(data.x, data.pos, data.edge_index, vel=data.vel)
    assert out.node.shape == (15, 2) and out.pos.shape == (15, 3) and out.graph.shape == (1, 4)
    assert_en_equivariant(model, data, output=("node", "position", "vector", "graph"))
    assert_permutation_equivariant(model, data, output=("node", "position", "vector", "graph"))
    assert repr(model) == ("EGNN(3, 16, num_layers=3, out_channels=2, graph_channels=4, "
                           "velocity=True)")  # fmt: skip


def reference_egnn_vel_layer(conv: EGNNConv, h: torch.Tensor, x: torch.Tensor,
                             v_init: torch.Tensor, edge_index: torch.Tensor):  # fmt: skip
    """Eqs. (3)-(7) of Satorras et al. edge by edge, in plain torch, from the layer's
    weights only (the concatenation [h_i, h_j, d2] through edge_lin1, not the split)."""
    n = h.size(0)
    m_sum = h.new_zeros(n, conv.hidden_channels)
    shift, count = torch.zeros_like(x), h.new_zeros(n)
    for j, i in edge_index.t().tolist():  # message from j to i
        d = x[i] - x[j]
        m = conv.edge_mlp(conv.edge_lin1(torch.cat([h[i], h[j], (d * d).sum()[None]])))
        if conv.att_lin is not None:
            m = m * torch.sigmoid(conv.att_lin(m))
        m_sum[i] += m
        shift[i] += d * conv.coord_mlp(m)
        count[i] += 1
    if conv.coord_aggr == "mean":
        shift = shift / count.clamp(min=1)[:, None]
    v = conv.vel_mlp(h) * v_init + conv.coord_scale * shift
    h_new = conv.node_mlp(torch.cat([h, m_sum], dim=1))
    return (h + h_new if conv.residual else h_new), x + v, v


def test_egnn_vel_feeds_the_input_velocity_to_every_layer() -> None:
    # Eq. (7) of Satorras et al.: v^{l+1} = phi_v(h^l) v^init + C sum_j (x_i - x_j) phi_x(m_ij),
    # checked against an edge-by-edge reference that shares only the weights.
    torch.manual_seed(0)
    data = random_graph(12, 3, 4, 2)
    x, vel = torch.randn(12, 2, dtype=torch.float64), torch.randn(12, 3, dtype=torch.float64)
    model = EGNN(2, 8, num_layers=3, velocity=True, coord_aggr="mean", attention=True).double()
    out = model(x, data.pos, data.edge_index, vel=vel)
    h, pos = model.embedding(x), data.pos
    for conv in model.convs:
        h, pos, v = reference_egnn_vel_layer(conv, h, pos, vel, data.edge_index)
    torch.testing.assert_close(out.pos, pos, rtol=0, atol=1e-12)
    torch.testing.assert_close(out.vel, v, rtol=0, atol=1e-12)
    torch.testing.assert_close(out.node, model.head(h), rtol=0, atol=1e-12)


def test_float32_and_compile() -> None:
    data = random_graph(40, 3, 6, 0, dtype=torch.float32)
    x = torch.randn(40, 8)
    conv = EGNNConv(8, 8, 16)
    h, pos = conv(x, data.pos, data.edge_index)
    assert h.dtype == torch.float32 and h.shape == (40, 8) and pos.shape == (40, 3)
    compiled = torch.compile(conv, backend="aot_eager", fullgraph=True)
    h2, pos2 = compiled(x, data.pos, data.edge_index)
    torch.testing.assert_close(h2, h)
    torch.testing.assert_close(pos2, pos)
    (h2.sum() + pos2.sum()).backward()
    assert conv.edge_lin1.weight.grad is not None


def test_repr_and_errors() -> None:
    assert repr(EGNNConv(4, 4)) == "EGNNConv(4, 4, hidden_channels=4)"
    assert repr(EGNNConv(4, 6, 32, residual=False, attention=True, velocity=True)) == (
        "EGNNConv(4, 6, hidden_channels=32, attention=True, residual=False, velocity=True)"
    )
    assert repr(EGNNConv(4, 4, aggr="max")) == "EGNNConv(4, 4, hidden_channels=4, aggr='max')"
    with pytest.raises(ValueError, match="residual"):
        EGNNConv(4, 6)
    with pytest.raises(ValueError, match="coord_aggr"):
        EGNNConv(4, 4, coord_aggr="max")
    conv = EGNNConv(4, 4)
    with pytest.raises(ValueError, match="x must have shape"):
        conv(torch.randn(3, 5), torch.randn(3, 2), torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="pos must have shape"):
        conv(torch.randn(3, 4), torch.randn(4, 2), torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="vel"):
        EGNNConv(4, 4, velocity=True)(torch.randn(3, 4), torch.randn(3, 2),
                                      torch.zeros(2, 0, dtype=torch.long))  # fmt: skip
    with pytest.raises(ValueError, match="velocity=False"):
        conv(torch.randn(3, 4), torch.randn(3, 2), torch.zeros(2, 0, dtype=torch.long),
             vel=torch.randn(3, 2))  # fmt: skip
    with pytest.raises(ValueError, match="hidden_channels must be >= 1"):
        EGNNConv(8, 8, hidden_channels=-3)
    with pytest.raises(TypeError, match="out_channels must be an int"):
        EGNNConv(8, 8.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="edge_dim must be >= 0"):
        EGNNConv(8, 8, edge_dim=-1)
    with pytest.raises(ValueError, match="eps must be a finite number"):
        EGNNConv(8, 8, eps=float("nan"))


def test_chunked_edges_give_the_same_result_and_gradients() -> None:
    torch.manual_seed(0)
    data = random_graph(40, 3, 6, 2)
    data.x = torch.randn(40, 5, dtype=torch.float64, requires_grad=True)
    whole = EGNNConv(5, 5, 8, attention=True, coord_aggr="mean").double()
    chunked = EGNNConv(5, 5, 8, attention=True, coord_aggr="mean", edge_chunk_size=7).double()
    chunked.load_state_dict(whole.state_dict())
    outs = []
    for conv in (whole, chunked):
        h, x = conv(data.x, data.pos, data.edge_index)
        (h.square().sum() + x.square().sum()).backward()
        outs.append((h, x, [p.grad.clone() for p in conv.parameters()]))
    torch.testing.assert_close(outs[0][0], outs[1][0], rtol=0, atol=1e-12)
    torch.testing.assert_close(outs[0][1], outs[1][1], rtol=0, atol=1e-12)
    for a, b in zip(outs[0][2], outs[1][2], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_graph_without_edges() -> None:
    conv = EGNNConv(3, 3, 4).double()
    x, pos = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    h, p = conv(x, pos, torch.zeros(2, 0, dtype=torch.long))
    torch.testing.assert_close(p, pos)
    torch.testing.assert_close(h, x + conv.node_mlp(torch.cat([x, torch.zeros(4, 4,
                                                     dtype=torch.float64)], 1)))  # fmt: skip
    with pytest.raises(ValueError, match="edge_chunk_size"):
        EGNNConv(3, 3, edge_chunk_size=0)


def test_egnn_conv_in_pyg_sequential_with_loader_batches() -> None:
    from torch_geometric.loader import DataLoader
    from torch_geometric.nn import Sequential

    graphs = []
    for n in (6, 15):
        d = random_graph(n, 3, 4, n)
        d.x = torch.randn(n, 4, dtype=torch.float64)
        graphs.append(d)
    model = Sequential("x, pos, edge_index", [
        (EGNNConv(4, 8, 8, residual=False), "x, pos, edge_index -> x, pos"),
        (EGNNConv(8, 8, 8), "x, pos, edge_index -> x, pos"),
    ]).double()  # fmt: skip
    batch = next(iter(DataLoader(graphs, batch_size=2)))
    h, x = model(batch.x, batch.pos, batch.edge_index)
    for i, g in enumerate(graphs):
        hi, xi = model(g.x, g.pos, g.edge_index)
        torch.testing.assert_close(h[batch.batch == i], hi, rtol=0, atol=1e-12)
        torch.testing.assert_close(x[batch.batch == i], xi, rtol=0, atol=1e-12)


def test_model_reset_keeps_each_layers_own_initialisation() -> None:
    # EGNNConv starts with tiny coordinate updates (xavier gain 0.001); resetting the
    # whole model must not overwrite that with a generic Linear init.
    model = EGNN(3, 16, num_layers=2)
    model.reset_parameters()
    for conv in model.convs:
        assert float(conv.coord_mlp[-1].weight.abs().max()) < 0.01
