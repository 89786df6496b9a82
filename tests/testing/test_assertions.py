"""The equivariance assertions pass on equivariant modules and fail on broken ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor
from torch_geometric.data import Data

from sgnn.data import AddHierarchy, particles_to_data, sandpile_to_data
from sgnn.nn import EGNNConv, LatticeConv, RGNet
from sgnn.pool import coarse_grain
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
        outs = super().forward(data, return_levels=True).levels
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


def test_random_orthogonal_names_a_bad_dimension() -> None:
    gen = torch.Generator().manual_seed(0)
    for n in (-2, 0):
        with pytest.raises(ValueError, match="n must be a positive int"):
            random_orthogonal(n, gen)
    with pytest.raises(TypeError, match="n must be a positive int"):
        random_orthogonal(2.5, gen)  # type: ignore[arg-type]


def test_random_orthogonal_is_haar_distributed() -> None:
    # Kolmogorov-Smirnov tests against two exact Haar marginals (2000 draws each; each
    # fails the uncorrected QR, whose first column always points away from a's).
    stats = pytest.importorskip("scipy.stats")
    gen = torch.Generator().manual_seed(0)
    # Haar on O(3): the first column is uniform on the sphere, so q[0, 0] ~ U[-1, 1].
    first = [float(random_orthogonal(3, gen)[0, 0]) for _ in range(2000)]
    assert stats.kstest(first, stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-3
    # Haar on SO(3): the rotation angle has density (1 - cos t) / pi on [0, pi].
    angles = []
    for _ in range(2000):
        q = random_orthogonal(3, gen, reflection=False)
        angles.append(float(torch.arccos(((torch.trace(q) - 1) / 2).clamp(-1, 1))))
    assert stats.kstest(angles, lambda t: (t - np.sin(t)) / np.pi).pvalue > 1e-3


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


class LatticeGradient(torch.nn.Module):
    """D4-equivariant outputs of every kind on a lattice graph: the node features, the
    discrete gradient sum_j (p_j - p_i) x_j (a vector in lattice coordinates), positions
    moved along it, and a message per edge."""

    def __init__(self, swap: bool = False) -> None:
        super().__init__()
        self.swap = swap  # broken: the gradient's components exchanged

    def forward(self, data: Data) -> tuple[Tensor, ...]:
        src, dst = data.edge_index
        pos = data.pos.to(data.x.dtype)
        grad = torch.zeros_like(pos).index_add_(0, dst, (pos[src] - pos[dst]) * data.x[src, :1])
        if self.swap:
            grad = grad.flip(1)
        edge = 2 * data.x[src] + data.x[dst]
        return data.x, grad, pos + 0.1 * grad, edge


def test_lattice_symmetric_turns_vectors_maps_positions_and_follows_edges() -> None:
    data = sandpile_to_data(sample_recurrent((4, 6), 0))  # rectangular: odd turns swap sides
    data.x = torch.randn(data.num_nodes, 3, dtype=torch.float64)
    kinds = ("node", "vector", "position", "edge")
    assert_lattice_symmetric(LatticeGradient(), data, forward=lambda m, d: m(d), output=kinds)
    # Vectors treated as scalars (what this assertion did before) are not equivariant ...
    with pytest.raises(AssertionError, match=r"output 1 \(node\) is not equivariant"):
        assert_lattice_symmetric(LatticeGradient(), data, forward=lambda m, d: m(d),
                                 output=("node", "node", "ignore", "edge"))  # fmt: skip
    # ... and a vector field with its components exchanged is caught.
    with pytest.raises(AssertionError, match=r"output 1 \(vector\)"):
        assert_lattice_symmetric(LatticeGradient(swap=True), data, forward=lambda m, d: m(d),
                                 output=kinds)  # fmt: skip

    class EdgeNumber(torch.nn.Module):
        def forward(self, data: Data) -> Tensor:  # broken: an edge's output is its position
            return torch.arange(data.edge_index.size(1), dtype=torch.float64)[:, None]

    with pytest.raises(AssertionError, match=r"output 0 \(edge\)"):
        assert_lattice_symmetric(EdgeNumber(), data, forward=lambda m, d: m(d), output="edge")


def test_ignored_outputs_are_not_compared() -> None:
    class WithNoise(torch.nn.Module):
        def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
            return x, torch.randn(3)  # a second output that no symmetry explains

    data = Data(x=torch.randn(6, 2), edge_index=torch.zeros(2, 0, dtype=torch.long))
    assert_permutation_equivariant(WithNoise(), data, forward=lambda m, d: m(d.x),
                                   output=("node", "ignore"))  # fmt: skip
    with pytest.raises(AssertionError, match=r"output 1 \(graph\)"):
        assert_permutation_equivariant(WithNoise(), data, forward=lambda m, d: m(d.x),
                                       output=("node", "graph"))  # fmt: skip
