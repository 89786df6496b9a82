"""The edge loop of sgnn's message-passing layers: chunked, fused, through ``propagate``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import torch
from torch import Tensor
from torch_geometric.nn import MessagePassing
from torch_geometric.typing import Adj, SparseTensor
from torch_geometric.utils import degree, is_sparse, is_torch_sparse_tensor

__all__ = ["ChunkedMessagePassing", "edge_pairs"]

from ._checks import AGGRS, check_channels, check_choice, check_edge_index

#: One message (or one tuple of message parts, each aggregated by its own ``aggr``).
Messages = Tensor | tuple[Tensor, ...]


def edge_pairs(edge_index: Adj, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``(source, target)`` of every edge of a dense ``(2, E)`` index or a transposed
    sparse adjacency (``SparseTensor`` or ``torch.sparse``, rows = targets), in storage
    order; edge attributes of a sparse adjacency follow the same order."""
    if isinstance(edge_index, SparseTensor):
        row, col, _ = edge_index.coo()
        return col, row
    if is_torch_sparse_tensor(edge_index):
        if tuple(edge_index.shape[:2]) != (num_nodes, num_nodes):
            raise ValueError(f"a sparse adjacency must have shape ({num_nodes}, {num_nodes}), "
                             f"got {tuple(edge_index.shape)}")  # fmt: skip
        if edge_index.layout == torch.sparse_coo:
            row, col = edge_index._indices()  # storage order, coalesced or not
            return col, row
        if edge_index.layout == torch.sparse_csr:
            crow, col = edge_index.crow_indices(), edge_index.col_indices()
            row = torch.repeat_interleave(torch.arange(num_nodes, device=col.device), crow.diff(),
                                          output_size=col.numel())  # fmt: skip
            return col, row
        raise ValueError(f"sparse adjacency layout {edge_index.layout} is not supported; "
                         "use COO or CSR")  # fmt: skip
    check_edge_index(edge_index, num_nodes)
    return edge_index[0], edge_index[1]


def _gather(value: Tensor, index: Tensor, edges: slice) -> Tensor:
    return value.index_select(0, index[edges])


def _gather_sum(first: Tensor, second: Tensor, dst: Tensor, src: Tensor, edges: slice) -> Tensor:
    # In place on a fresh gather, whose backward does not need it.
    return first.index_select(0, dst[edges]).add_(second.index_select(0, src[edges]))


def finish_aggregate(out: Tensor, count: Tensor, aggr: str) -> Tensor:
    """The last step of an aggregation, from the per-target sums (or maxima) ``out`` and
    message counts ``count``: the mean divides by the count, and a target without
    messages gets 0 under every ``aggr``, as in PyG. The only place where sgnn's
    layers take a mean of messages."""
    if aggr == "mean":
        return out / count.clamp(min=1).unsqueeze(-1)
    if aggr == "max":
        return out.masked_fill((count == 0).unsqueeze(-1), 0.0)
    return out


class ChunkedMessagePassing(MessagePassing):
    r"""A :class:`~torch_geometric.nn.MessagePassing` whose edge loop runs in chunks.

    ``forward`` calls :meth:`propagate` as usual, with ``self.adjacency(edge_index,
    N)[0]``: a dense ``edge_index`` becomes a transposed sparse COO adjacency (a
    view: no copy, no sort) and PyG, as documented for
    :meth:`~torch_geometric.nn.MessagePassing.message_and_aggregate`, calls
    that method when it is given a sparse adjacency. There the subclass hands
    its :meth:`message` (or a function returning the message in parts) to
    :meth:`chunked_aggregate`, which runs it on :attr:`edge_chunk_size` edges
    at a time and aggregates each chunk into the output in place, so the
    per-edge intermediates stay cache-sized whatever the graph (and, without
    autograd, the peak memory is that of one chunk). Under PyG's explain mode,
    with ``fuse = False``, for ``flow="target_to_source"`` and under
    :func:`torch.compile`, :meth:`propagate` takes PyG's ordinary route
    instead, :meth:`message` on every edge and then :meth:`aggregate`: both
    routes give the same result (``tests/nn/test_chunked.py`` pins both).

    ``aggr`` is ``"sum"`` (or ``"add"``), ``"mean"`` or ``"max"`` and is
    honoured by both routes; a node without messages gets 0, as in PyG. Other
    keyword arguments go to :class:`~torch_geometric.nn.MessagePassing`
    (``flow``, ``node_dim`` of 0 or -2); ``decomposed_layers`` is not supported.

    A subclass writes :meth:`message` as usual, with PyG's ``_i``/``_j``
    suffixes, and a :meth:`message_and_aggregate` that passes it and its inputs
    to :meth:`chunked_aggregate`; its ``forward`` calls
    ``self.propagate(self.adjacency(edge_index, N)[0], ...)``. See
    :class:`~sgnn.nn.EGNNConv` and :class:`~sgnn.nn.LatticeConv`.

    Args:
        aggr (str, optional): ``"sum"``, ``"mean"`` or ``"max"``.
            (default: ``"sum"``)
        edge_chunk_size (int, optional): Edges per chunk of the fused loop.
            (default: :obj:`None`, the class attribute :attr:`edge_chunk_size`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.
    """

    #: Edges per chunk of the fused loop.
    edge_chunk_size: int = 16384

    def __init__(self, aggr: str = "sum", *, edge_chunk_size: int | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        check_choice("aggr", aggr, (*AGGRS, "add"))
        if kwargs.get("decomposed_layers", 1) != 1:
            raise ValueError(f"decomposed_layers must be 1 for {type(self).__name__}, got "
                             f"{kwargs['decomposed_layers']!r}")  # fmt: skip
        if kwargs.get("node_dim", -2) not in (0, -2):
            raise ValueError(f"node_dim must be 0 or -2 (node features are (N, F)), got "
                             f"{kwargs['node_dim']!r}")  # fmt: skip
        super().__init__(aggr=aggr, **kwargs)
        if edge_chunk_size is not None:
            check_channels(edge_chunk_size=edge_chunk_size)
            self.edge_chunk_size = edge_chunk_size

    @property
    def _aggr(self) -> str:
        return "sum" if self.aggr == "add" else str(self.aggr)

    def adjacency(self, edge_index: Adj, num_nodes: int) -> tuple[Adj, Tensor]:
        """What ``forward`` passes to :meth:`propagate` -- ``edge_index`` itself if it is
        sparse or if PyG's ordinary route is to be taken, else the same edges as a
        transposed sparse COO view -- and the target of every edge (whose count is the
        number of edges), from one validation of the input."""
        src, dst = edge_pairs(edge_index, num_nodes)
        if self.flow == "target_to_source" and not is_sparse(edge_index):
            src, dst = dst, src
        # Unfused: under explain, without fusion, against PyG's default flow, and under
        # torch.compile (which cannot trace the sparse view, and fuses the per-edge chain
        # itself).
        if is_sparse(edge_index) or not self.fuse or self.explain or (
                self.flow != "source_to_target") or torch.compiler.is_compiling():  # fmt: skip
            return edge_index, dst
        ones = torch.ones(1, device=src.device).expand(src.numel())
        adj_t = torch.sparse_coo_tensor(
            torch.stack([dst, src]),
            ones,
            (num_nodes, num_nodes),
            is_coalesced=False,
            check_invariants=False,
        )
        return adj_t, dst

    def chunked_aggregate(
        self,
        adj_t: Adj,
        message: Callable[..., Messages],
        inputs: Mapping[str, Tensor | tuple[Tensor, Tensor] | None],
        aggr: str | Sequence[str] | None = None,
    ) -> Messages:
        """Aggregate ``message(**chunk_inputs)`` over the edges of ``adj_t``, chunk by
        chunk.

        ``inputs`` follows PyG's conventions: a key ending in ``_i`` is a node tensor
        gathered at the targets of the chunk's edges, one ending in ``_j`` at their
        sources, one ending in ``_ij`` a pair ``(a, b)`` of node tensors given as
        ``a_i + b_j`` (the first layer of a message network split into a target and a
        source term, in one gather), any other key a per-edge tensor (in ``adj_t``'s
        storage order) sliced to the chunk, or :obj:`None`. ``message`` returns a
        ``(E_chunk, W)`` tensor, or a tuple of them aggregated by the entries of
        ``aggr`` (default: :attr:`aggr`) one by one; the result is a ``(N, W)``
        tensor or the tuple of them.
        """
        num_nodes = int(adj_t.size(0))
        src, dst = edge_pairs(adj_t, num_nodes)
        num_edges = src.numel()
        size = self.edge_chunk_size
        bounds = range(0, max(num_edges, 1), size)  # one empty chunk without edges
        # Under autograd, the backward of a gather per chunk fills and adds a gradient of
        # the whole node tensor per chunk, O(N x chunks); gathered once and split, the
        # backward is one gather's and one concatenation, O(E). The cheaper one is taken.
        split = torch.is_grad_enabled() and 2 * num_nodes * len(bounds) > num_edges
        gathers: dict[str, Callable[[slice], Tensor]] = {}
        for key, value in inputs.items():
            if isinstance(value, tuple):
                gathers[key] = partial(_gather_sum, value[0], value[1], dst, src)
            elif isinstance(value, Tensor) and key.endswith(("_i", "_j")):
                gathers[key] = partial(_gather, value, dst if key.endswith("_i") else src)
            elif isinstance(value, Tensor):
                gathers[key] = value.__getitem__
        pieces: dict[str, Sequence[Tensor]] = {}
        for key, gather in gathers.items():
            value = inputs[key]
            grad = value[0].requires_grad or value[1].requires_grad if isinstance(
                value, tuple) else value is not None and value.requires_grad  # fmt: skip
            if split and grad:
                whole = gather(slice(None))
                pieces[key] = whole.split(size) if num_edges else (whole,)

        def chunks() -> Iterable[tuple[Tensor, Messages]]:
            for k, start in enumerate(bounds):
                edges = slice(start, start + size)
                kwargs: dict[str, Tensor | None] = dict.fromkeys(inputs)
                for key, gather in gathers.items():
                    kwargs[key] = pieces[key][k] if key in pieces else gather(edges)
                yield dst[edges], message(**kwargs)

        return self.reduce_chunks(chunks(), num_nodes, aggr, lambda: degree(dst, num_nodes))

    def reduce_chunks(
        self,
        chunks: Iterable[tuple[Tensor, Messages]],
        num_targets: int,
        aggr: str | Sequence[str] | None,
        count: Callable[[], Tensor],
    ) -> Messages:
        """The accumulation shared by every chunked loop: ``chunks`` yields ``(index,
        parts)``, messages (or partial aggregates) and the target of each row, and part
        ``p`` is reduced over its targets by ``aggr[p]`` into a ``(num_targets, W)``
        tensor, then finished by :func:`finish_aggregate` with ``count()`` messages per
        target."""
        aggrs: tuple[str, ...]
        if aggr is None:
            aggrs = (self._aggr,)
        elif isinstance(aggr, str):
            aggrs = (aggr,)
        else:
            aggrs = tuple(aggr)
        for a in aggrs:
            check_choice("aggr", a, AGGRS)
        outs: list[Tensor] = []
        # Maxima under autograd: kept until one scatter at the end, as PyG does, since the
        # backward of an in-place running maximum would need every intermediate result.
        collect = torch.is_grad_enabled()
        maxima: list[list[tuple[Tensor, Tensor]]] = [[] for _ in aggrs]
        single = True
        for index, msg in chunks:
            parts = (msg,) if isinstance(msg, Tensor) else tuple(msg)
            single = isinstance(msg, Tensor)
            if len(parts) != len(aggrs):
                raise ValueError(f"{len(parts)} message parts for {len(aggrs)} aggregations")
            if not outs:
                for a, m in zip(aggrs, parts, strict=True):
                    fill = float("-inf") if a == "max" and not collect else 0.0
                    outs.append(m.new_full((num_targets, m.size(1)), fill))
            for p, (a, m) in enumerate(zip(aggrs, parts, strict=True)):
                if a != "max":
                    outs[p].index_add_(0, index, m)  # a fresh accumulator: safe for autograd
                elif collect:
                    maxima[p].append((index, m))
                else:
                    outs[p].scatter_reduce_(0, index[:, None].expand_as(m), m, "amax")
        counts = count().to(outs[0].dtype) if set(aggrs) - {"sum"} else outs[0]
        results = []
        for p, a in enumerate(aggrs):
            if maxima[p]:
                index = torch.cat([i for i, _ in maxima[p]])
                m = torch.cat([m for _, m in maxima[p]])
                outs[p] = outs[p].scatter_reduce(0, index[:, None].expand_as(m), m, "amax",
                                                 include_self=False)  # fmt: skip
            results.append(finish_aggregate(outs[p], counts, a))
        return results[0] if single else tuple(results)
