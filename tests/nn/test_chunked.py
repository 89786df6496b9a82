"""The shared chunked edge loop: reached through propagate, equal to PyG's unfused route,
and fed by a dense index or a sparse adjacency alike."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.utils import to_torch_coo_tensor, to_torch_csr_tensor

from sgnn.nn import EGNNConv, LatticeConv, PairwiseSetConv


def random_edges(n: int, e: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (2, e), generator=g)


def layers() -> list[tuple[str, torch.nn.Module]]:
    torch.manual_seed(0)
    return [
        ("egnn", EGNNConv(4, 4, 8, edge_dim=2, attention=True, coord_aggr="mean")),
        ("lattice-sum", LatticeConv(4, 3, 6, aggr="sum")),
        ("lattice-mean", LatticeConv(4, 3, 6, aggr="mean")),
        ("lattice-max", LatticeConv(4, 3, 6, aggr="max")),
        ("pairwise-max", PairwiseSetConv(4, 3, 6, aggr="max")),
    ]


def run(name: str, layer: torch.nn.Module, x: torch.Tensor, pos: torch.Tensor,
        adj: object, attr: torch.Tensor) -> torch.Tensor:  # fmt: skip
    if name == "egnn":
        h, p = layer(x, pos, adj, attr)
        return torch.cat([h, p], dim=1)
    return layer(x, adj)


@pytest.mark.parametrize("index", range(5))
def test_fused_chunks_equal_the_unfused_route(index: int) -> None:
    name, layer = layers()[index]
    layer = layer.double()
    n, edges = 30, random_edges(30, 200, 1)  # repeated edges and nodes without any
    x = torch.randn(n, 4, dtype=torch.float64, requires_grad=True)
    pos = torch.randn(n, 3, dtype=torch.float64)
    attr = torch.randn(edges.size(1), 2, dtype=torch.float64)
    layer.edge_chunk_size = 7  # 29 chunks
    fused = run(name, layer, x, pos, edges, attr)
    (grad_fused,) = torch.autograd.grad(fused.square().sum(), x)
    layer.fuse = False  # PyG's message -> aggregate route on every edge at once
    plain = run(name, layer, x, pos, edges, attr)
    (grad_plain,) = torch.autograd.grad(plain.square().sum(), x)
    torch.testing.assert_close(fused, plain, rtol=0, atol=1e-12)
    torch.testing.assert_close(grad_fused, grad_plain, rtol=0, atol=1e-10)


@pytest.mark.parametrize("index", range(5))
@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_sparse_adjacency_equals_the_edge_index(index: int, layout: str) -> None:
    name, layer = layers()[index]
    layer = layer.double()
    n = 25
    # Coalesced, so that the sparse storage order is the index's order (edge_attr follows it).
    edges = torch.unique(random_edges(n, 120, 2), dim=1)
    edges = edges[:, torch.argsort(edges[1] * n + edges[0])]
    x = torch.randn(n, 4, dtype=torch.float64)
    pos = torch.randn(n, 3, dtype=torch.float64)
    attr = torch.randn(edges.size(1), 2, dtype=torch.float64)
    convert = to_torch_coo_tensor if layout == "coo" else to_torch_csr_tensor
    adj_t = convert(edges.flip(0), size=(n, n))  # transposed: rows are targets
    torch.testing.assert_close(run(name, layer, x, pos, adj_t, attr),
                               run(name, layer, x, pos, edges, attr), rtol=0, atol=1e-12)


def test_propagate_hooks_see_every_call() -> None:
    conv = LatticeConv(2, 2)
    seen: list[str] = []
    conv.register_propagate_forward_hook(lambda module, inputs, out: seen.append("propagate"))
    conv.register_message_and_aggregate_forward_hook(
        lambda module, inputs, out: seen.append("fused"))
    conv(torch.randn(5, 2), random_edges(5, 12, 3))
    assert seen == ["fused", "propagate"]


def test_sparse_adjacency_of_the_wrong_size_is_refused() -> None:
    adj_t = to_torch_coo_tensor(random_edges(6, 10, 4), size=(6, 6))
    with pytest.raises(ValueError, match="sparse adjacency must have shape"):
        LatticeConv(2, 2)(torch.randn(5, 2), adj_t)


def test_edge_pairs_reads_every_adjacency_format_in_storage_order() -> None:
    from sgnn.nn import edge_pairs

    edges = torch.tensor([[0, 2, 1, 2], [1, 0, 2, 1]])  # sorted by target, then source
    for adj in (edges, to_torch_coo_tensor(edges.flip(0), size=(3, 3)),
                to_torch_csr_tensor(edges.flip(0), size=(3, 3))):  # fmt: skip
        src, dst = edge_pairs(adj, 3)
        assert sorted(zip(src.tolist(), dst.tolist(), strict=True)) == sorted(
            zip(edges[0].tolist(), edges[1].tolist(), strict=True))
    with pytest.raises(ValueError, match=r"edge_index must have shape \(2, E\)"):
        edge_pairs(edges.t(), 3)
