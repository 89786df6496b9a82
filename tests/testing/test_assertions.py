"""The equivariance assertions pass on equivariant modules and fail on broken ones."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torch_geometric.data import Data

from sgnn.data import AddHierarchy, coarse_grain, particles_to_data, sandpile_to_data
from sgnn.nn import EGNNConv, LatticeConv, RGNet
from sgnn.sandpile import sample_recurrent
from sgnn.testing import (
    assert_coarse_graining_equivariant,
    assert_en_equivariant,
    assert_lattice_symmetric,
    assert_permutation_equivariant,
    random_orthogonal,
)


class IndexFeatures(torch.nn.Module):
    """Broken: adds each node's index, which does not move with the node."""

    def forward(self, x: Tensor) -> Tensor:
        return x + torch.arange(x.size(0), dtype=x.dtype)[:, None]


class FirstNodeReadout(torch.nn.Module):
    """Broken graph readout: the features of node 0."""

    def forward(self, x: Tensor) -> Tensor:
        return x[:1]


class RawCoordinateEGNN(EGNNConv):
    """Broken: an EGNN layer that adds raw coordinates to its invariant features."""

    def forward(self, x, pos, edge_index, edge_attr=None, vel=None):
        h, p = super().forward(x, pos, edge_index)
        return h + pos.sum(dim=1, keepdim=True), p


class AbsolutePositions(torch.nn.Module):
    """Broken: coordinates updated by a fixed direction, not rotated with the input."""

    def forward(self, x: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
        return x, pos + torch.ones_like(pos)


class LeftNeighbour(torch.nn.Module):
    """Broken lattice layer: messages only from the left neighbour (directional)."""

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        src, dst = edge_index
        left = src == dst - 1
        out = torch.zeros_like(x)
        return out.index_add(0, dst[left], x[src[left]]) + x


class LevelDependentModel(RGNet):
    """Broken RG model: each level's output depends on its index."""

    def forward(self, data, return_levels=False):
        outs = super().forward(data, return_levels=True)
        return [o + k for k, o in enumerate(outs)]


class FineToCoarseModel(torch.nn.Module):
    """Broken RG model: every level sees the finest level's maximum (information from
    below; the mean would survive mean pooling unchanged)."""

    in_channels = 3

    def forward(self, data, return_levels=False):
        x, outs = data.x, []
        for k in range(int(data.num_levels)):
            outs.append(x + data.x.amax(0))
            if k < int(data.num_levels) - 1:
                x = coarse_grain(x, data[f"cluster_{k}"], "mean")
        return outs


def particle_data(n: int = 12, dim: int = 3) -> Data:
    data = particles_to_data(torch.randn(n, dim, dtype=torch.float64), graph="knn", k=4)
    del data.edge_attr
    data.x = torch.randn(n, 3, dtype=torch.float64)
    return data


def test_permutation_assertion_fails_on_broken_modules() -> None:
    data = Data(x=torch.randn(10, 3), num_nodes=10)
    assert_permutation_equivariant(torch.nn.Linear(3, 3), data)
    with pytest.raises(AssertionError, match=r"permutation trial 0: output 0 \(node\)"):
        assert_permutation_equivariant(IndexFeatures(), data)
    with pytest.raises(AssertionError, match=r"output 0 \(graph\) is not equivariant"):
        assert_permutation_equivariant(FirstNodeReadout(), data, output="graph")


def test_permutation_within_graphs_keeps_batch_sorted() -> None:
    data = Data(x=torch.randn(9, 2), batch=torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 2]), num_nodes=9)

    class NeedsSortedBatch(torch.nn.Module):
        def forward(self, x: Tensor, batch: Tensor) -> Tensor:
            assert torch.all(batch[1:] >= batch[:-1])
            return x * 2

    assert_permutation_equivariant(NeedsSortedBatch(), data)


def test_en_assertion_fails_on_broken_modules() -> None:
    data = particle_data()
    assert_en_equivariant(EGNNConv(3, 3, 8), data)
    with pytest.raises(AssertionError, match=r"E\(3\) trial 0 \(det Q = 1\): output 0 \(node\)"):
        assert_en_equivariant(RawCoordinateEGNN(3, 3, 8), data)
    with pytest.raises(AssertionError, match=r"output 1 \(position\) is not equivariant"):
        assert_en_equivariant(AbsolutePositions(), data)
    # Displacements as edge features are not invariant; rebuilding the graph from the
    # transformed positions (prepare) exposes it, distances pass.
    def with_edges(d: Data, keep: slice) -> Data:
        out = particles_to_data(d.pos, graph="knn", k=4, dtype=d.pos.dtype)
        out.x, out.edge_attr = d.x, out.edge_attr[:, keep]
        return out

    assert_en_equivariant(EGNNConv(3, 3, 8, edge_dim=1), data,
                          prepare=lambda d: with_edges(d, slice(3, 4)))  # fmt: skip
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_en_equivariant(EGNNConv(3, 3, 8, edge_dim=4), data,
                              prepare=lambda d: with_edges(d, slice(0, 4)))  # fmt: skip


def test_en_assertion_checks_reflections() -> None:
    """A layer equivariant under rotations only (a cross product term) fails on det Q = -1."""

    class Chiral(torch.nn.Module):
        def forward(self, x: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
            centred = pos - pos.mean(0)
            a, b = x[:, :1].t() @ centred, x[:, 1:2].t() @ centred  # equivariant vectors
            return x, pos + 0.1 * torch.linalg.cross(a, b)  # a pseudovector

    data = particle_data()
    with pytest.raises(AssertionError, match=r"det Q = -1"):
        assert_en_equivariant(Chiral(), data, trials=2)


def test_lattice_assertion_fails_on_directional_layer() -> None:
    data = sandpile_to_data(sample_recurrent((5, 6), 0))
    assert_lattice_symmetric(LatticeConv(5, 5), data)
    with pytest.raises(AssertionError, match=r"D4 element 1: output 0 \(node\)"):
        assert_lattice_symmetric(LeftNeighbour(), data)


def test_coarse_graining_assertion_fails_on_broken_models() -> None:
    torch.manual_seed(0)
    assert_coarse_graining_equivariant(RGNet(3, 6, 2), (8, 8))
    with pytest.raises(AssertionError, match="level 0 of f\\(Px\\) vs level 1 of f\\(x\\)"):
        assert_coarse_graining_equivariant(LevelDependentModel(3, 6, 2), (8, 8))
    with pytest.raises(AssertionError, match="coarse-graining"):
        assert_coarse_graining_equivariant(FineToCoarseModel(), (8, 8))
    with pytest.raises(ValueError, match="multiples"):
        assert_coarse_graining_equivariant(RGNet(3, 6, 2), (9, 8))


def test_rgnet_lattice_assertion_needs_prepare() -> None:
    data = sandpile_to_data(sample_recurrent((8, 8), 0))
    assert_lattice_symmetric(RGNet(5, 6, 2), data, forward=lambda m, d: m(d),
                             prepare=AddHierarchy())  # fmt: skip


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_random_orthogonal(n: int) -> None:
    gen = torch.Generator().manual_seed(n)
    for reflection in (False, True):
        q = random_orthogonal(n, gen, reflection=reflection)
        torch.testing.assert_close(q @ q.t(), torch.eye(n, dtype=torch.float64))
        assert float(torch.det(q)) == pytest.approx(-1.0 if reflection else 1.0)
    qs = torch.stack([random_orthogonal(2, gen) for _ in range(2000)])
    assert abs(float(qs.mean())) < 0.05  # Haar: no preferred direction


def test_tolerance_scales_with_dtype_and_bad_arguments() -> None:
    class Noisy(torch.nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x + 1e-6 * torch.rand_like(x)  # below float32 tolerance, above float64's

    data = Data(x=torch.randn(6, 2), num_nodes=6)
    assert_permutation_equivariant(Noisy(), data, dtype=torch.float32)
    with pytest.raises(AssertionError):
        assert_permutation_equivariant(Noisy(), data)
    with pytest.raises(ValueError, match="kinds"):
        assert_permutation_equivariant(torch.nn.Linear(2, 2), data, output="scalar")
    with pytest.raises(TypeError, match="data"):
        assert_permutation_equivariant(torch.nn.Linear(2, 2), {"x": torch.randn(2, 2)})
    with pytest.raises(ValueError, match="position keys"):
        assert_en_equivariant(torch.nn.Linear(2, 2), data)
