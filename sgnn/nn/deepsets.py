"""The permutation-equivariant linear layer of Deep Sets (Zaheer et al., 2017)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import Linear, Module
from torch_geometric.utils import scatter

from ._checks import AGGRS, check_batch, check_channels, check_choice, values_are_checked

__all__ = ["DeepSetsLayer"]


class DeepSetsLayer(Module):
    r"""The permutation-equivariant linear layer from `"Deep Sets"
    <https://arxiv.org/abs/1703.06114>`_ (Zaheer et al., 2017).

    .. math::
        \mathbf{x}_i' = \Lambda \mathbf{x}_i + \Gamma \bigoplus_{j \in S(i)}
            \mathbf{x}_j + \mathbf{b},

    where :math:`S(i)` is the set of element :math:`i` (given by ``batch``) and
    :math:`\bigoplus` is a sum, mean or max. It is the most general linear map
    (up to the pooling) that commutes with every permutation of each set's
    elements: permuting the inputs permutes the outputs the same way.

    Args:
        in_channels (int): Size of each input element.
        out_channels (int): Size of each output element.
        aggr (str, optional): ``"sum"``, ``"mean"`` or ``"max"``.
            (default: ``"mean"``)
        bias (bool, optional): Learn :math:`\mathbf{b}`. (default: :obj:`True`)

    Shapes:
        - **input:** elements :math:`(N, F_{in})`, ``batch`` :math:`(N,)`
          *(optional, one set if omitted)*
        - **output:** :math:`(N, F_{out})`
    """

    def __init__(self, in_channels: int, out_channels: int, aggr: str = "mean",
                 bias: bool = True) -> None:  # fmt: skip
        super().__init__()
        check_channels(in_channels=in_channels, out_channels=out_channels)
        check_choice("aggr", aggr, AGGRS)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.aggr = aggr
        self.lin_self = Linear(in_channels, out_channels, bias=bias)
        self.lin_set = Linear(in_channels, out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin_self.reset_parameters()
        self.lin_set.reset_parameters()

    def forward(self, x: Tensor, batch: Tensor | None = None) -> Tensor:
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}), got {tuple(x.shape)}")
        check_batch(batch, x.size(0))
        if batch is None:
            batch, num_sets = torch.zeros(x.size(0), dtype=torch.long, device=x.device), 1
        elif values_are_checked(batch):
            num_sets = int(batch.max()) + 1 if batch.numel() else 0
        else:  # no host sync on an accelerator: at most one set per element
            num_sets = x.size(0)
        pooled = scatter(x, batch, dim=0, dim_size=num_sets, reduce=self.aggr)
        # Pool first, then project: the set term costs O(B F F') instead of O(N F F').
        return self.lin_self(x) + self.lin_set(pooled).index_select(0, batch)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, aggr={self.aggr})"
