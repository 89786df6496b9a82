"""The shared chunked edge loop: reached through propagate, equal to PyG's unfused route,
and fed by a dense index or a sparse adjacency alike."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.typing import Adj
from torch_geometric.utils import is_torch_sparse_tensor, to_torch_coo_tensor, to_torch_csr_tensor

import sgnn.nn._checks
import sgnn.nn.deepsets
from sgnn.nn import (
    AutomatonConv,
    ChunkedMessagePassing,
    DeepSetsLayer,
    EGNNConv,
    LatticeConv,
    PairwiseSetConv,
)
from sgnn.nn._checks import check_edge_index


def random_edges(n: int, e: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (2, e), generator=g)


def layers() -> list[tuple[str, torch.nn.Module]]:
    torch.manual_seed(0)
    return [
        ("egnn", EGNNConv(4, 4, 8, edge_dim=2, attention=True, coord_aggr="mean")),
        ("egnn", EGNNConv(4, 4, 8, edge_dim=2, aggr="mean")),
        ("egnn", EGNNConv(4, 4, 8, edge_dim=2, aggr="max", coord_aggr="mean")),
        ("lattice-sum", LatticeConv(4, 3, 6, aggr="sum")),
        ("lattice-mean", LatticeConv(4, 3, 6, aggr="mean")),
        ("lattice-max", LatticeConv(4, 3, 6, aggr="max")),
        ("pairwise-max", PairwiseSetConv(4, 3, 6, aggr="max")),
        ("pairwise-mean", PairwiseSetConv(4, 3, 6, aggr="mean")),
    ]


def run(name: str, layer: torch.nn.Module, x: torch.Tensor, pos: torch.Tensor,
        adj: object, attr: torch.Tensor) -> torch.Tensor:  # fmt: skip
    if name == "egnn":
        h, p = layer(x, pos, adj, attr)
        return torch.cat([h, p], dim=1)
    return layer(x, adj)


@pytest.mark.parametrize("index", range(8))
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


@pytest.mark.parametrize("index", range(8))
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
    torch.testing.assert_close(
        run(name, layer, x, pos, adj_t, attr),
        run(name, layer, x, pos, edges, attr),
        rtol=0,
        atol=1e-12,
    )


def test_propagate_hooks_see_every_call() -> None:
    conv = LatticeConv(2, 2)
    seen: list[str] = []
    conv.register_propagate_forward_hook(lambda module, inputs, out: seen.append("propagate"))
    conv.register_message_and_aggregate_forward_hook(
        lambda module, inputs, out: seen.append("fused")
    )
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
            zip(edges[0].tolist(), edges[1].tolist(), strict=True)
        )
    with pytest.raises(ValueError, match=r"edge_index must have shape \(2, E\)"):
        edge_pairs(edges.t(), 3)


class ToyConv(ChunkedMessagePassing):
    """The smallest subclass: a nonlinear message of (x_i, x_j), any aggr."""

    def __init__(self, aggr: str, edge_chunk_size: int = 3) -> None:
        super().__init__(aggr=aggr, edge_chunk_size=edge_chunk_size)
        self.lin = torch.nn.Linear(3, 2)

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        adj, _ = self.adjacency(edge_index, x.size(0))
        return self.propagate(adj, x=x, size=(x.size(0), x.size(0)))

    def message(self, x_i: Tensor, x_j: Tensor) -> Tensor:
        return torch.tanh(self.lin(x_j - 2 * x_i))

    def message_and_aggregate(self, adj_t: Adj, x: Tensor) -> Tensor:
        out = self.chunked_aggregate(adj_t, self.message, {"x_i": x, "x_j": x})
        assert isinstance(out, Tensor)
        return out


@pytest.mark.parametrize("aggr", ["sum", "mean", "max"])
@pytest.mark.parametrize("chunk", [3, 64])  # 14 chunks (gathered once, split) or one
@pytest.mark.parametrize("grad", [True, False])
def test_a_subclass_aggr_is_honoured_as_by_pyg(aggr: str, chunk: int, grad: bool) -> None:
    torch.manual_seed(0)
    conv = ToyConv(aggr, chunk).double()
    n, g = 12, torch.Generator().manual_seed(5)
    # Targets 0..9 only: nodes 10 and 11 receive nothing (0 under every aggr, as in PyG).
    edges = torch.stack([torch.randint(0, n, (40,), generator=g),
                         torch.randint(0, 10, (40,), generator=g)])  # fmt: skip
    x = torch.randn(n, 3, dtype=torch.float64, requires_grad=True)
    with torch.set_grad_enabled(grad):
        fused = conv(x, edges)
        conv.fuse = False  # PyG's route: message on every edge, then PyG's aggregation
        plain = conv(x, edges)
    torch.testing.assert_close(fused, plain, rtol=0, atol=1e-12)
    assert fused[10:].abs().max() == 0
    if grad:
        g_fused, g_plain = (torch.autograd.grad(o.square().sum(), x)[0] for o in (fused, plain))
        torch.testing.assert_close(g_fused, g_plain, rtol=0, atol=1e-12)


def test_an_unsupported_aggr_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="aggr"):
        ToyConv("min")
    with pytest.raises(ValueError, match="aggr"):
        EGNNConv(4, 4, aggr="median")
    conv = ToyConv("sum")
    adj, _ = conv.adjacency(random_edges(4, 6, 0), 4)
    with pytest.raises(ValueError, match="aggr"):
        conv.chunked_aggregate(adj, conv.message, {"x_i": torch.ones(4, 3),
                                                   "x_j": torch.ones(4, 3)}, "min")  # fmt: skip


def test_message_passing_kwargs_reach_pyg() -> None:
    torch.manual_seed(0)
    n, edges = 9, random_edges(9, 30, 6)
    x, pos = torch.randn(n, 4, dtype=torch.float64), torch.randn(n, 3, dtype=torch.float64)
    for make in (lambda **kw: EGNNConv(4, 4, 8, **kw), lambda **kw: LatticeConv(4, 3, **kw),
                 lambda **kw: PairwiseSetConv(4, 3, aggr="mean", **kw)):  # fmt: skip
        default, reverse = make().double(), make(flow="target_to_source").double()
        reverse.load_state_dict(default.state_dict())
        assert torch.equal(reverse.adjacency(edges, n)[1], edges[0])  # the targets
        name = "egnn" if isinstance(default, EGNNConv) else "other"
        torch.testing.assert_close(run(name, reverse, x, pos, edges, None),
                                   run(name, default, x, pos, edges.flip(0), None),
                                   rtol=0, atol=1e-12)  # fmt: skip
    with pytest.raises(ValueError, match="decomposed_layers"):
        EGNNConv(4, 4, decomposed_layers=2)
    with pytest.raises(ValueError, match="node_dim"):
        LatticeConv(4, 3, node_dim=1)


def test_pyg_routes_that_the_chunk_engine_relies_on() -> None:
    """Pins PyG's routing, for a layer whose ``propagate`` PyG compiles from its template
    (EGNNConv) and one where it does not (LatticeConv calls it outside ``forward``): a
    sparse adjacency from ``adjacency`` reaches ``message_and_aggregate`` as it is and
    ``message`` is not called; without fusion and in explain mode, ``message`` and
    ``aggregate`` are."""
    for conv in (LatticeConv(2, 2, aggr="sum"), EGNNConv(2, 2)):
        assert_routes(conv)


def assert_routes(conv: ChunkedMessagePassing) -> None:
    pos = torch.randn(6, 3)
    x, edges = torch.randn(6, 2), random_edges(6, 15, 7)
    made: list[Adj] = []
    seen: list[tuple[str, object]] = []
    adjacency = conv.adjacency
    conv.adjacency = lambda e, n: made.append(adjacency(e, n)[0]) or (made[-1], e[1])  # type: ignore[method-assign]
    conv.register_message_and_aggregate_forward_pre_hook(
        lambda module, inputs: seen.append(("fused", inputs[0]))
    )
    conv.register_message_forward_hook(lambda module, inputs, out: seen.append(("message", None)))
    conv.register_aggregate_forward_hook(
        lambda module, inputs, out: seen.append(("aggregate", None))
    )
    call = (
        (lambda: conv(x, pos, edges)[0]) if isinstance(conv, EGNNConv) else lambda: conv(x, edges)
    )
    fused = call()
    assert [name for name, _ in seen] == ["fused"] and seen[0][1] is made[0]
    # Never sorted or copied (PyG may flag it coalesced): edge_attr follows storage order.
    assert is_torch_sparse_tensor(made[0]) and torch.equal(made[0]._indices(), edges.flip(0))
    for route in ("plain", "explain"):
        seen.clear()
        if route == "plain":
            conv.fuse = False
        else:
            conv.fuse = True
            set_masks(conv, torch.full((15,), float("inf")), edges)  # sigmoid: weights of 1
        torch.testing.assert_close(call(), fused)
        assert [name for name, _ in seen] == ["message", "aggregate"], route
    clear_masks(conv)


class HostSyncs(TorchDispatchMode):
    """Records the operations that read a tensor's value on the host or whose output
    shape depends on values (boolean masks): each is a sync on GPU."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:  # fmt: skip
        name = func.__name__.split(".")[0]
        masks = name in ("index", "index_put", "index_put_") and any(
            isinstance(i, Tensor) and i.dtype == torch.bool for i in args[1])  # fmt: skip
        if masks or name in ("_local_scalar_dense", "nonzero", "masked_select", "unique_dim"):
            self.reads.append(str(func))  # a value read, or a shape that depends on values
        return func(*args, **(kwargs or {}))


def test_no_host_sync_per_call_off_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on an accelerator: the checks read no values, and nothing else in forward or
    # backward may (no .item(), int(tensor), bool(tensor), data-dependent shapes).
    for module in (sgnn.nn._checks, sgnn.nn.deepsets):
        monkeypatch.setattr(module, "values_are_checked", lambda tensor: False)
    torch.manual_seed(0)
    x, pos, edges = (
        torch.randn(20, 4, requires_grad=True),
        torch.randn(20, 3),
        random_edges(20, 90, 8),
    )
    attr = torch.randn(90, 2)
    convs = [(EGNNConv(4, 4, 8, edge_dim=2, coord_aggr="mean", edge_chunk_size=16), "egnn"),
             (EGNNConv(4, 4, 8, edge_dim=2, aggr="max", edge_chunk_size=16), "egnn")]  # fmt: skip
    convs += [(LatticeConv(4, 3, aggr=aggr), "lattice") for aggr in ("sum", "mean", "max")]
    convs += [(PairwiseSetConv(4, 3, aggr="sum"), "pairwise")]
    for conv, name in convs:
        with HostSyncs() as mode:
            out = run(name if name == "egnn" else "other", conv, x, pos, edges, attr)
            out.square().sum().backward()
        assert mode.reads == [], (conv, mode.reads)
    with HostSyncs() as mode:
        AutomatonConv(0, 2)(torch.randn(20, 0), torch.randn(20, 2), edges)
        PairwiseSetConv(4, 3)(x)  # one set: the dense path without padding
        for aggr in ("sum", "max"):
            DeepSetsLayer(4, 3, aggr=aggr)(x, torch.arange(20) // 7)
    assert mode.reads == []


def test_values_are_checked_on_the_cpu_only() -> None:
    # On another device (here "meta", whose values cannot be read at all) only the shape
    # and dtype are checked; on the CPU the range is.
    check_edge_index(torch.empty(2, 5, dtype=torch.long, device="meta"), 3)
    with pytest.raises(ValueError, match=r"node indices in 0\.\.2, got 0\.\.3"):
        check_edge_index(torch.tensor([[0, 1], [2, 3]]), 3)


def test_pairwise_dense_path_runs_on_the_shared_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    reduce_chunks = ChunkedMessagePassing.reduce_chunks

    def spy(self: ChunkedMessagePassing, chunks: Any, num_targets: int, aggr: Any,
            count: Any) -> Any:  # fmt: skip
        seen.append(num_targets)
        return reduce_chunks(self, chunks, num_targets, aggr, count)

    monkeypatch.setattr(ChunkedMessagePassing, "reduce_chunks", spy)
    x, batch = torch.randn(7, 3), torch.tensor([0, 0, 0, 1, 1, 1, 1])
    for aggr in ("sum", "mean", "max"):
        PairwiseSetConv(3, 4, aggr=aggr)(x, batch=batch)
    assert seen == [8, 8, 8]  # 2 sets padded to 4 slots
