r"""The local domain of the sandpile's toppling rule, for :func:`~sgnn.tasks.verify_rule`.

During an avalanche started from a stable pile by one grain, a site of the
square lattice (threshold 4) holds a height :math:`h \in \{0, \dots, 7\}` and
has 0 to 4 neighbours (4 inside, 3 on an edge, 2 in a corner; fewer on a
lattice one site wide). One synchronous step maps it to

.. math::
    h' = h - 4\,[h \ge 4] + \#\{j \sim i : h_j \ge 4\}, \qquad
    c = [h \ge 4],

which never leaves :math:`\{0, \dots, 7\}`: a toppling site keeps at most
:math:`3 + 4`, a stable one receives at most 4. :func:`topple_cases` lists every
own height with every multiset of neighbour heights (3 960 cases) and every
input of the initial state (40), whether or not small lattices ever show them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .local_rules import LocalCases, multisets, star_graphs

__all__ = [
    "HEIGHT_BITS",
    "IN_CHANNELS",
    "MAX_DEGREE",
    "footprint_inputs",
    "start_inputs",
    "thermometer",
    "topple_cases",
]

#: Bits of the thermometer code of a height during an avalanche, [h >= k] for k = 1..7: from a
#: stable start no site holds twice its threshold (8).
HEIGHT_BITS = 7
#: Input channels of footprint samples: one-hot height (4), missing neighbours, drop site.
IN_CHANNELS = 6
#: Neighbours of a site of the square lattice, at most.
MAX_DEGREE = 4


def thermometer(heights: Tensor, bits: int = HEIGHT_BITS) -> Tensor:
    """Bits ``[h >= k]`` for ``k = 1..bits``, shape ``(N, bits)``, integer."""
    levels = torch.arange(1, bits + 1, device=heights.device)
    return (heights[:, None] >= levels).long()


def footprint_inputs(height: Tensor, missing: Tensor, drop: Tensor) -> Tensor:
    """Footprint-sample inputs (one-hot height, missing neighbours, drop site), float."""
    one_hot = torch.nn.functional.one_hot(height.long(), 4).double()
    return torch.cat([one_hot, missing.double()[:, None], drop.double()[:, None]], 1)


def start_inputs() -> tuple[Tensor, Tensor, Tensor]:
    """Every input of a site before the avalanche: height 0..3, 0..4 missing neighbours,
    drop site or not; returned as ``(inputs, height, drop)``."""
    grid = torch.cartesian_prod(torch.arange(4), torch.arange(MAX_DEGREE + 1), torch.arange(2))
    height, missing, drop = grid.unbind(1)
    return footprint_inputs(height, missing, drop), height, drop


def topple_cases() -> LocalCases:
    r"""The toppling rule's whole local domain, for :class:`~sgnn.tasks.ToppleAutomaton`.

    States are the model's: the thermometer bits of the height and a toppling
    counter (0 before the step; its true value after the step is the
    increment :math:`c`). Update cases: own height :math:`0..7` times every
    multiset of 0 to 4 neighbour heights (8 x 495 = 3 960); the inputs, which
    the rule does not read, are zero. Initial-state cases: height
    :math:`z \in 0..3`, 0 to 4 missing neighbours, drop site or not (40), with
    initial height :math:`z + [\text{drop site}]` and counter 0.
    """
    centres, neighbours, degrees, after = [], [], [], []
    for h in range(HEIGHT_BITS + 1):
        for ms in multisets(HEIGHT_BITS + 1, MAX_DEGREE):
            centres.append(h)
            neighbours.append(torch.tensor(ms, dtype=torch.long))
            degrees.append(len(ms))
            toppled = sum(int(v >= 4) for v in ms)
            after.append((h - 4 * int(h >= 4) + toppled, int(h >= 4)))
    zero = torch.zeros(1, dtype=torch.long)

    def encode(heights: Tensor) -> Tensor:
        return torch.cat([thermometer(heights), zero.expand(heights.numel(), 1)], 1)

    state, edge_index, center = star_graphs(
        encode(torch.tensor(centres)), [encode(n) for n in neighbours], degrees
    )
    target_height, target_count = torch.tensor(after).unbind(1)
    target = torch.cat([thermometer(target_height), target_count[:, None]], 1)
    start_x, height, drop = start_inputs()
    start_target = torch.cat([thermometer(height + drop), torch.zeros_like(height)[:, None]], 1)
    return LocalCases(torch.zeros(state.size(0), IN_CHANNELS, dtype=torch.float64),
                      state.double(), edge_index, center, target.double(), start_x,
                      start_target.double())  # fmt: skip
