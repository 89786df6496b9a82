"""The coarse-graining hierarchy: exactness, pooling against dense references, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.loader import DataLoader

from sgnn.data import (
    AddHierarchy,
    HierarchicalData,
    coarse_grain_hierarchy,
    lattice_graph,
    lattice_symmetry,
    sandpile_to_data,
)
from sgnn.pool import coarse_grain, refine
from sgnn.sandpile import sample_recurrent


def assert_coarse_levels_equal(fine: tuple[int, int], coarse: tuple[int, int], b: int) -> None:
    """Hierarchy of `fine` minus its level 0 == hierarchy of `coarse`, positions b p + (b-1)/2."""
    hf = coarse_grain_hierarchy(fine, b)
    hc = coarse_grain_hierarchy(coarse, b)
    assert hf.num_levels == hc.num_levels + 1
    assert hf.shapes[1:] == hc.shapes
    for k in range(hc.num_levels):
        assert torch.equal(hf.edge_index[k + 1], hc.edge_index[k])
        torch.testing.assert_close(hf.pos[k + 1], b * hc.pos[k] + (b - 1) / 2, rtol=0, atol=0)
    for k in range(hc.num_levels - 1):
        assert torch.equal(hf.cluster[k + 1], hc.cluster[k])


@pytest.mark.parametrize("L", range(1, 65))
def test_hierarchy_of_2L_is_hierarchy_of_L_plus_one_level(L: int) -> None:
    assert_coarse_levels_equal((2 * L, 2 * L), (L, L), 2)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(2, 4))
def test_exactness_for_any_shape_and_factor(h: int, w: int, b: int) -> None:
    assert_coarse_levels_equal((b * h, b * w), (h, w), b)


def test_exactness_fails_for_shapes_that_are_not_multiples() -> None:
    """The documented limit: a 9x9 lattice's level 1 (5x5) is not the 4x4 hierarchy."""
    assert coarse_grain_hierarchy((9, 9)).shapes[1] == (5, 5)


def test_hierarchy_structure_by_brute_force() -> None:
    shape, b = (7, 10), 3
    h = coarse_grain_hierarchy(shape, b)
    assert h.shapes == [(7, 10), (3, 4), (1, 2), (1, 1)]
    for k in range(h.num_levels - 1):
        (hk, wk), (_, wn) = h.shapes[k], h.shapes[k + 1]
        expected = [(i // b) * wn + j // b for i in range(hk) for j in range(wk)]
        assert h.cluster[k].tolist() == expected
        assert torch.equal(h.edge_index[k], lattice_graph(h.shapes[k])[0])
    # Block centres of the fine sites covered, partial blocks included.
    fine = np.argwhere(np.ones(shape)).astype(float)
    member = np.arange(70)
    for k in range(1, h.num_levels):
        member = h.cluster[k - 1].numpy()[member]
        for node in range(h.num_nodes(k)):
            sites = fine[member == node]
            centre = (sites.min(0) + sites.max(0)) / 2
            np.testing.assert_allclose(h.pos[k][node].numpy(), centre)


def test_num_levels_pads_and_truncates() -> None:
    natural = coarse_grain_hierarchy((4, 4))
    assert natural.num_levels == 3
    padded = coarse_grain_hierarchy((4, 4), num_levels=5)
    assert padded.shapes == [(4, 4), (2, 2), (1, 1), (1, 1), (1, 1)]
    assert padded.cluster[2].tolist() == [0] and padded.edge_index[4].shape == (2, 0)
    torch.testing.assert_close(padded.pos[4], torch.tensor([[1.5, 1.5]]))
    assert coarse_grain_hierarchy((4, 4), num_levels=2).shapes == [(4, 4), (2, 2)]


def dense_block_pool(x: np.ndarray, shape: tuple[int, int], b: int, reduce: str) -> np.ndarray:
    """Reference: pad to a multiple of b, reshape into blocks, reduce over valid sites."""
    h, w = shape
    hc, wc = -(-h // b), -(-w // b)
    fill = {"sum": 0.0, "mean": np.nan, "max": -np.inf, "min": np.inf}[reduce]
    grid = np.full((hc * b, wc * b, *x.shape[1:]), fill)
    grid[:h, :w] = x.reshape((h, w, *x.shape[1:]))
    blocks = grid.reshape((hc, b, wc, b, *x.shape[1:])).swapaxes(1, 2)
    blocks = blocks.reshape((hc * wc, b * b, *x.shape[1:]))
    fn = {"sum": np.sum, "mean": np.nanmean, "max": np.max, "min": np.min}[reduce]
    return fn(blocks, axis=1)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(2, 3),
       st.sampled_from(["sum", "mean", "max", "min"]), st.integers(0, 1000))  # fmt: skip
def test_coarse_grain_and_refine_match_dense_reshape(h, w, b, reduce, seed) -> None:
    hier = coarse_grain_hierarchy((h, w), b, num_levels=2)  # 1x1 pads to two levels
    x = np.random.default_rng(seed).normal(size=(h * w, 3))
    pooled = coarse_grain(torch.from_numpy(x), hier.cluster[0], reduce)
    np.testing.assert_allclose(pooled.numpy(), dense_block_pool(x, (h, w), b, reduce), atol=1e-12)
    # refine copies each block back: the dense reference is np.kron-style upsampling.
    xc = np.random.default_rng(seed + 1).normal(size=(hier.num_nodes(1), 2))
    hc, wc = hier.shapes[1]
    up = np.repeat(np.repeat(xc.reshape(hc, wc, 2), b, 0), b, 1)[:h, :w].reshape(h * w, 2)
    np.testing.assert_array_equal(refine(torch.from_numpy(xc), hier.cluster[0]).numpy(), up)
    # sum-pooling and refine are adjoint: <P x, y> = <x, R y>.
    lhs = (coarse_grain(torch.from_numpy(x[:, :2]), hier.cluster[0]) * torch.from_numpy(xc)).sum()
    rhs = (torch.from_numpy(x[:, :2]) * refine(torch.from_numpy(xc), hier.cluster[0])).sum()
    torch.testing.assert_close(lhs, rhs)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 10), st.integers(1, 10), st.integers(2, 3),
       st.lists(st.sampled_from(["sum", "mean", "max", "min"]), min_size=1, max_size=5),
       st.integers(0, 1000))  # fmt: skip
def test_per_column_reductions_match_the_dense_reference(h, w, b, reductions, seed) -> None:
    hier = coarse_grain_hierarchy((h, w), b, num_levels=2)
    x = np.random.default_rng(seed).normal(size=(h * w, len(reductions)))
    pooled = coarse_grain(torch.from_numpy(x), hier.cluster[0], reductions).numpy()
    for j, reduce in enumerate(reductions):
        np.testing.assert_allclose(pooled[:, j], dense_block_pool(x[:, j], (h, w), b, reduce),
                                   atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("element", range(8))
def test_pooling_commutes_with_d4(k: int, element: int) -> None:
    """Sides powers of b: pooling a rotated field = rotating the pooled field, at every level."""
    b, L = 2, 2**k * 2
    h = coarse_grain_hierarchy((L, L), b)
    x = torch.randn(L * L, 4, dtype=torch.float64)
    # The rotated field is carried up the hierarchy on its own, so every level compares
    # pooling the rotated field with rotating the pooled one.
    xr = {reduce: x[lattice_symmetry((L, L), element)[0]] for reduce in ("sum", "max")}
    xs = {reduce: x for reduce in ("sum", "max")}
    for level in range(h.num_levels - 1):
        perm1, _ = lattice_symmetry(h.shapes[level + 1], element)
        for reduce in ("sum", "max"):
            xr[reduce] = coarse_grain(xr[reduce], h.cluster[level], reduce)
            xs[reduce] = coarse_grain(xs[reduce], h.cluster[level], reduce)
            torch.testing.assert_close(xr[reduce], xs[reduce][perm1], rtol=0, atol=1e-12)
    # At the top: one site, the same whatever the symmetry, and the whole field's sum/max.
    torch.testing.assert_close(xr["sum"], x.sum(0, keepdim=True), rtol=0, atol=1e-12)
    torch.testing.assert_close(xr["max"], x.amax(0, keepdim=True), rtol=0, atol=0)


def test_pooling_commutes_with_d4_on_rectangles_with_power_sides() -> None:
    h = coarse_grain_hierarchy((8, 16), 2)
    x = torch.randn(128, 2, dtype=torch.float64)
    for element in range(8):
        perm0, shape0 = lattice_symmetry((8, 16), element)
        h_rot = coarse_grain_hierarchy(shape0, 2)
        perm1, _ = lattice_symmetry(h.shapes[1], element)
        lhs = coarse_grain(x[perm0], h_rot.cluster[0])
        torch.testing.assert_close(lhs, coarse_grain(x, h.cluster[0])[perm1], rtol=0, atol=1e-12)


def translation(shape: tuple[int, int], di: int, dj: int) -> torch.Tensor:
    """perm[new] = old for a periodic shift by (di, dj)."""
    h, w = shape
    idx = np.roll(np.arange(h * w).reshape(h, w), (di, dj), axis=(0, 1))
    return torch.from_numpy(idx.reshape(-1).copy())


@pytest.mark.parametrize("b", [2, 3])
def test_pooling_commutes_with_translations_by_multiples_of_b(b: int) -> None:
    L = b**3
    h = coarse_grain_hierarchy((L, L), b, boundary="periodic")
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(L * L, 3)))
    for _ in range(5):
        ti, tj = (int(v) for v in rng.integers(0, L // b, size=2))
        lhs = coarse_grain(x[translation((L, L), b * ti, b * tj)], h.cluster[0])
        rhs = coarse_grain(x, h.cluster[0])[translation(h.shapes[1], ti, tj)]
        torch.testing.assert_close(lhs, rhs, rtol=0, atol=1e-12)
        # and the periodic coarse lattice is the translated one: edges map to edges
        perm = translation(h.shapes[1], ti, tj)
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(perm.numel())
        mapped = {tuple(e) for e in inv[h.edge_index[1]].t().tolist()}
        assert mapped == {tuple(e) for e in h.edge_index[1].t().tolist()}
    # A shift that is not a multiple of b does not commute (the test has power).
    lhs = coarse_grain(x[translation((L, L), 1, 0)], h.cluster[0])
    assert not torch.allclose(lhs, coarse_grain(x, h.cluster[0]))


def test_batch_pools_each_graph_into_its_own_blocks() -> None:
    transform = AddHierarchy(num_levels=6)
    datas = [transform(sandpile_to_data(sample_recurrent((L, L), L))) for L in (16, 32)]
    assert all(isinstance(d, HierarchicalData) for d in datas)
    batch = next(iter(DataLoader(datas, batch_size=2)))
    x = torch.randn(batch.num_nodes, 2, dtype=torch.float64)
    for level in range(5):
        edge_index, pos, cluster = batch.level(level)
        named = batch.level(level)
        assert (named.edge_index, named.pos, named.cluster) == (edge_index, pos, cluster)
        assert torch.equal(cluster, batch[f"cluster_{level}"])
        assert torch.equal(edge_index, batch[f"edge_index_{level}"] if level else batch.edge_index)
        assert pos.size(0) == batch.level_size(level) == cluster.size(0)
        size = batch.level_size(level + 1)
        pooled = coarse_grain(x, cluster, dim_size=size)
        # Graph by graph, with each graph's own hierarchy:
        expected, offset = [], 0
        for d in datas:
            n = d.level_size(level)
            expected.append(coarse_grain(x[offset : offset + n], d[f"cluster_{level}"],
                                         dim_size=d.level_size(level + 1)))  # fmt: skip
            offset += n
        torch.testing.assert_close(pooled, torch.cat(expected), rtol=0, atol=1e-12)
        batch_next = batch[f"batch_{level + 1}"]
        # every block belongs to the graph of its sites
        batch_here = batch.batch if level == 0 else batch[f"batch_{level}"]
        assert torch.equal(batch_next[cluster], batch_here)
        x = pooled
    for d_in, d_out in zip(datas, batch.to_data_list(), strict=True):
        for key in d_in.keys():
            a, b = d_in[key], d_out[key]
            assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b, key


def test_add_hierarchy_does_not_modify_input_and_prints() -> None:
    data = sandpile_to_data(sample_recurrent((6, 6), 0))
    keys = set(data.keys())
    out = AddHierarchy(factor=3)(data)
    assert set(data.keys()) == keys and "cluster_0" in out and out.num_levels == 3
    assert repr(AddHierarchy()) == "AddHierarchy(factor=2, num_levels=None, boundary='open')"


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [({"factor": 1}, ValueError, "factor"), ({"factor": 2.0}, TypeError, "factor"),
     ({"boundary": "x"}, ValueError, "boundary"), ({"num_levels": 0}, ValueError, "num_levels")],
)  # fmt: skip
def test_hierarchy_rejects_bad_arguments(kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match):
        coarse_grain_hierarchy((4, 4), **kwargs)
    with pytest.raises(exc, match=match):
        AddHierarchy(**kwargs)


def test_pooling_rejects_bad_arguments() -> None:
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="reduce"):
        coarse_grain(x, torch.zeros(4, dtype=torch.long), "median")
    with pytest.raises(ValueError, match="cluster has 3 entries"):
        coarse_grain(x, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="one per feature column"):
        coarse_grain(x, torch.zeros(4, dtype=torch.long), ("sum", "max", "mean"))
    with pytest.raises(ValueError, match="reduce entries"):
        coarse_grain(x, torch.zeros(4, dtype=torch.long), ("sum", "median"))
    with pytest.raises(ValueError, match=r"shape \(N, F\)"):
        coarse_grain(torch.randn(4), torch.zeros(4, dtype=torch.long), ("sum",))
    with pytest.raises(TypeError, match="reduce"):
        coarse_grain(x, torch.zeros(4, dtype=torch.long), 3)
    with pytest.raises(TypeError, match="cluster"):
        coarse_grain(x, torch.zeros(4))
    with pytest.raises(ValueError, match="cluster values"):
        refine(x, torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="nodes"):
        coarse_grain_hierarchy((3, 3)).attach(sandpile_to_data(np.zeros((2, 2), dtype=int)))


def test_coarse_grain_refuses_clusters_beyond_dim_size() -> None:
    x = torch.ones(4, 2)
    cluster = torch.tensor([0, 0, 1, 3])
    with pytest.raises(ValueError, match=r"cluster values must be block indices in 0\.\.1"):
        coarse_grain(x, cluster, dim_size=2)
    with pytest.raises(ValueError, match="dim_size must be a non-negative int"):
        coarse_grain(x, cluster, dim_size=-1)
    assert coarse_grain(x, cluster, dim_size=4).shape == (4, 2)
