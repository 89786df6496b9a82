"""Permutation-invariant readouts of sets and graphs."""

from __future__ import annotations

from torch import Tensor
from torch.nn import Linear, Module, Sequential, SiLU
from torch_geometric.nn.aggr import (
    AttentionalAggregation,
    MaxAggregation,
    MeanAggregation,
    SumAggregation,
)

from ._checks import AGGRS, check_batch, check_channels, check_choice

__all__ = ["SetReadout"]

_READOUTS = (*AGGRS, "attention")


class SetReadout(Module):
    r"""A permutation-invariant readout of each set (or graph) of a batch.

    .. math::
        \mathbf{r}_S = \bigoplus_{i \in S} \mathbf{x}_i
        \quad\text{or}\quad
        \mathbf{r}_S = \sum_{i \in S} \operatorname{softmax}_{i \in S}
            \big(g(\mathbf{x}_i)\big)\, \mathbf{x}_i ,

    with :math:`\bigoplus` a sum, mean or max, or soft attention with a
    learned gate :math:`g` (`Li et al., 2016 <https://arxiv.org/abs/1511.05493>`_).
    The output does not change when the elements of a set are permuted. A thin
    wrapper around PyG's aggregation modules.

    Args:
        in_channels (int): Size of each element.
        aggr (str, optional): ``"sum"``, ``"mean"``, ``"max"`` or
            ``"attention"``. (default: ``"mean"``)

    Shapes:
        - **input:** elements :math:`(N, F)`, ``batch`` :math:`(N,)` *(optional)*
        - **output:** :math:`(B, F)`
    """

    def __init__(self, in_channels: int, aggr: str = "mean") -> None:
        super().__init__()
        check_channels(in_channels=in_channels)
        check_choice("aggr", aggr, _READOUTS)
        self.in_channels = in_channels
        self.aggr = aggr
        if aggr == "attention":
            gate = Sequential(Linear(in_channels, in_channels), SiLU(), Linear(in_channels, 1))
            self.pool: Module = AttentionalAggregation(gate)
        else:
            self.pool = {"sum": SumAggregation, "mean": MeanAggregation,
                         "max": MaxAggregation}[aggr]()  # fmt: skip
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.pool.reset_parameters()

    def forward(self, x: Tensor, batch: Tensor | None = None, size: int | None = None) -> Tensor:
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}), got {tuple(x.shape)}")
        check_batch(batch, x.size(0))
        return self.pool(x, batch, dim_size=size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, aggr={self.aggr})"
