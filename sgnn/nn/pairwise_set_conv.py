"""A permutation-equivariant set layer that compares elements pairwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor
from torch.nn import Module, ReLU
from torch_geometric.typing import Adj
from torch_geometric.utils import is_sparse, to_dense_batch

from ._checks import AGGRS, check_batch, check_channels, check_choice
from ._pair_message import PairMessagePassing
from .chunked import finish_aggregate

__all__ = ["PairwiseSetConv"]


def _amax_over_sources(m: Tensor, width: int = 32) -> Tensor:
    """``m.amax(dim=2)`` for ``m`` of shape (B, c, n, F), fast when F is narrow.

    PyTorch's CPU reduction over a strided dimension is not vectorised when
    the contiguous inner dimension is narrower than a few SIMD registers
    (measured here: 0.5 ms for (1, 1, 10 000, 16) against 0.05 ms for F = 32).
    Folding ``k`` sources into the inner dimension, ``(n / k, k F)``, gives the
    vectorised path, and a second small reduction over ``k`` finishes it.
    """
    b, c, n, f = m.shape
    k = -(-width // f)
    if f == 1 or k == 1 or n < 256:
        return m.amax(dim=2)
    whole = n - n % k
    out = m[:, :, :whole].reshape(b, c, whole // k, k * f).amax(dim=2)
    out = out.view(b, c, k, f).amax(dim=2)
    if whole < n:
        out = torch.maximum(out, m[:, :, whole:].amax(dim=2))
    return out


class PairwiseSetConv(PairMessagePassing):
    r"""A set layer that compares every pair of elements of a set.

    .. math::
        \mathbf{m}_{ij} &= W_2\, \sigma\big(W_1 [\mathbf{x}_i, \mathbf{x}_j,
            \mathbf{x}_i - \mathbf{x}_j] + \mathbf{b}_1\big)

        \mathbf{x}_i' &= \Theta \mathbf{x}_i + \bigoplus_{j \in S(i),\, j \ne i}
            \mathbf{m}_{ij} + \mathbf{b},

    over the complete graph of each set :math:`S(i)` (given by ``batch``), with
    :math:`\bigoplus` a sum, mean or max. Comparisons such as "is
    :math:`\mathbf{x}_j` larger than :math:`\mathbf{x}_i`?" are one hidden unit
    away, which plain DeepSets layers cannot express; the layer is
    permutation-equivariant, and its parameters do not depend on the set size.

    **Memory.** The complete graph is never stored: elements are laid out as
    a dense ``(B, n_max, F)`` batch and the pairs of ``target_chunk_size`` target
    elements at a time are formed, so the pairwise tensor holds
    :math:`B \cdot \text{chunk} \cdot n_{\max} \cdot H` numbers (``H`` hidden
    units) instead of :math:`B n_{\max}^2 H`. By default the chunk is sized
    to keep that tensor near :attr:`pair_budget` numbers (about a megabyte),
    small enough to stay in cache: the pairwise work is memory-bound. On one
    set of 10 000 elements with 16 channels (``benchmarks/bench_layers.py``),
    cache-sized chunks ran 4x faster than chunks of 256 targets on one
    thread (5.7 s against 23 s), as fast on two (about 10 s each), and need
    12 MB instead of 350 MB. Time is :math:`O(n^2 H F)` per set. In training,
    autograd keeps every chunk's activations; pass ``gradient_checkpointing=True`` to
    recompute them in the backward pass instead. The first layer is applied
    to elements before pairing,
    :math:`W_1[\mathbf{x}_i, \mathbf{x}_j, \mathbf{x}_i - \mathbf{x}_j] =
    (A + C)\mathbf{x}_i + (B - C)\mathbf{x}_j`, and with sum or mean
    aggregation :math:`W_2` is applied after aggregating.

    Given ``edge_index`` instead, it runs as an ordinary message-passing layer
    on those pairs (:meth:`message`), which equals the dense path on complete
    graphs.

    Args:
        in_channels (int): Size of each input element.
        out_channels (int): Size of each output element.
        hidden_channels (int, optional): Hidden units :math:`H` of the pair
            network. (default: :obj:`None`, ``out_channels``)
        aggr (str, optional): ``"sum"``, ``"mean"`` or ``"max"``.
            (default: ``"max"``)
        target_chunk_size (int, optional): Target elements per chunk.
            (default: :obj:`None`, chosen from :attr:`pair_budget`)
        gradient_checkpointing (bool, optional): Recompute chunks in the
            backward pass instead of storing their activations.
            (default: :obj:`False`)
        act (Callable, optional): :math:`\sigma`. (default: :class:`torch.nn.ReLU`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing` (``flow``, for the
            ``edge_index`` path).

    Shapes:
        - **input:** elements :math:`(N, F_{in})`, ``batch`` :math:`(N,)`
          *(optional; sorted, as PyG batches are)*, ``edge_index``
          :math:`(2, E)` *(optional)*
        - **output:** :math:`(N, F_{out})`
    """

    #: Numbers in one chunk's pairwise tensor when ``target_chunk_size`` is None.
    pair_budget: int = 1 << 18

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int | None = None,
        aggr: str = "max",
        target_chunk_size: int | None = None,
        gradient_checkpointing: bool = False,
        act: Callable[[], Module] = ReLU,
        **kwargs: Any,
    ) -> None:
        check_choice("aggr", aggr, AGGRS)
        if target_chunk_size is not None:
            check_channels(target_chunk_size=target_chunk_size)
        super().__init__(in_channels, out_channels, hidden_channels, aggr, act,
                         with_difference=True, **kwargs)  # fmt: skip
        self.target_chunk_size = target_chunk_size
        self.gradient_checkpointing = gradient_checkpointing
        self.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj | None = None,
                batch: Tensor | None = None) -> Tensor:  # fmt: skip
        """Pairs of the complete graph of each set of ``batch``, or the pairs of
        ``edge_index`` (a ``(2, E)`` index or a sparse adjacency) when given."""
        if isinstance(edge_index, Tensor) and not is_sparse(edge_index) and edge_index.dim() == 1:
            raise TypeError("edge_index must be a (2, E) index or a sparse adjacency, got a "
                            "1-D tensor: pass the set assignment as batch=... (the order is "
                            "PyG's conv(x, edge_index, batch) since sgnn 0.2)")  # fmt: skip
        if edge_index is not None:
            return self.propagate_pairs(x, edge_index)
        target, source = self.node_terms(x)
        check_batch(batch, x.size(0))
        return self.lin_root(x) + self._dense(target, source, batch)

    def _dense(self, target: Tensor, source: Tensor, batch: Tensor | None) -> Tensor:
        t, mask = to_dense_batch(target, batch)  # (B, n, H)
        s, _ = to_dense_batch(source, batch)
        num_sets, n = t.shape[:2]
        size = self.target_chunk_size or max(1, self.pair_budget // (num_sets * n * t.size(2)))
        # Padding slots exist only when the sets differ in size (to_dense_batch has read the
        # sizes already: no further host sync).
        padding = None if batch is None or bool(mask.all()) else ~mask
        # Every element of a set but itself, per (padded) target slot.
        count = (mask.sum(dim=1) - 1).clamp(min=0).repeat_interleave(n)
        sets = torch.arange(num_sets, device=t.device)[:, None] * n
        linear = self._linear_after_aggregation

        def chunks() -> Iterator[tuple[Tensor, Tensor]]:
            for start in range(0, n, size):
                stop = min(n, start + size)
                if self.gradient_checkpointing and torch.is_grad_enabled():
                    chunk = torch.utils.checkpoint.checkpoint(
                        self._chunk, t, s, padding, start, stop, use_reentrant=False
                    )
                else:
                    chunk = self._chunk(t, s, padding, start, stop)
                rows = (sets + torch.arange(start, stop, device=t.device)).flatten()
                yield rows, chunk.flatten(0, 1)

        # The edge path's accumulation and finish (mean, empty maximum), on blocks of
        # targets already reduced over their sources.
        out = self.reduce_chunks(chunks(), num_sets * n, self._aggr, lambda: count)
        assert isinstance(out, Tensor)
        if linear:
            # The ones of the edge path's last column, aggregated: the count, or 1 under mean.
            ones = finish_aggregate(count[:, None].to(out.dtype), count, self._aggr)
            out = self.after_aggregation(out, ones)
        # Without padding the slots are the elements, in order: no boolean indexing (a
        # host sync on GPU).
        return out if padding is None else out[mask.flatten()]

    def _chunk(self, t: Tensor, s: Tensor, padding: Tensor | None, start: int, stop: int) -> Tensor:
        """Messages to targets ``start:stop`` of every set reduced over their sources,
        (B, chunk, F'): the maximum, or the sum of the hidden units under sum and mean."""
        h = self.act(t[:, start:stop, None, :] + s[:, None, :, :])  # (B, c, n, H)
        rows = torch.arange(start, stop, device=t.device)
        if not self._linear_after_aggregation:
            m = self.lin_msg(h)
            # Exclude j == i and padding sources. In place is safe: the backward of a
            # linear layer needs its input, not its output.
            m[:, rows - start, rows] = float("-inf")
            if padding is not None:
                m.masked_fill_(padding[:, None, :, None], float("-inf"))
            return _amax_over_sources(m)  # -inf for sets of one: 0 once finished
        # Linear W_2 commutes with sum and mean: aggregate the hidden units first, then
        # remove the j == i terms and the padding sources.
        summed = h.sum(dim=2) - h[:, rows - start, rows]
        if padding is not None:
            summed = summed - (h * padding[:, None, :, None]).sum(dim=2)
        return summed

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
            f"hidden_channels={self.hidden_channels}, aggr={self.aggr})"
        )
