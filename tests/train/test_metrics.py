"""Per-graph ranking metrics against scipy and against the per-graph loops they replaced."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sgnn.train import (
    alarm_precision_recall,
    captured_fraction,
    spearman_per_graph,
    top_fraction_recall,
)


def ragged(sizes: list[int], seed: int, ties: bool) -> tuple[torch.Tensor, torch.Tensor,
                                                              torch.Tensor]:  # fmt: skip
    """Predictions, truth and a batch vector of graphs of ``sizes`` nodes (few distinct
    values with ``ties``)."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    if ties:
        pred, true = rng.integers(0, 3, n).astype(float), rng.integers(0, 3, n).astype(float)
    else:
        pred, true = rng.random(n), rng.random(n)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    return torch.from_numpy(pred), torch.from_numpy(true), batch


def loop_spearman(pred: torch.Tensor, true: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """sgnn 0.3's spearman_per_graph: one graph at a time, ranks by torch.unique."""

    def ranks(values: torch.Tensor) -> torch.Tensor:
        order = torch.argsort(values, stable=True)
        r = torch.empty_like(values, dtype=torch.float64)
        r[order] = torch.arange(1, values.numel() + 1, dtype=torch.float64)
        _, inverse = torch.unique(values, return_inverse=True)
        mean = torch.zeros(int(inverse.max()) + 1, dtype=torch.float64)
        mean.index_add_(0, inverse, r)
        return (mean / torch.bincount(inverse))[inverse]

    out = []
    for g in range(int(batch.max()) + 1):
        rp, rt = ranks(pred[batch == g]), ranks(true[batch == g])
        rp, rt = rp - rp.mean(), rt - rt.mean()
        denom = torch.sqrt((rp * rp).sum() * (rt * rt).sum())
        out.append(float((rp * rt).sum() / denom) if denom > 0 else math.nan)
    return torch.tensor(out, dtype=torch.float64)


def loop_recall(pred: torch.Tensor, true: torch.Tensor, batch: torch.Tensor, fraction: float,
                top=None) -> torch.Tensor:  # fmt: skip
    """sgnn 0.3's top_fraction_recall, one graph at a time; ``top(values, k)`` gives the
    indices of the k largest (0.3 used :func:`torch.topk`, whose ties are arbitrary; the
    default breaks them by index, as documented)."""
    top = top or (lambda v, k: torch.sort(v, descending=True, stable=True).indices[:k])
    out = []
    for g in range(int(batch.max()) + 1):
        p, t = pred[batch == g], true[batch == g]
        k = max(1, int(torch.ceil(torch.tensor(fraction * p.numel(), dtype=torch.float32))))
        out.append(len(set(top(t, k).tolist()) & set(top(p, k).tolist())) / k)
    return torch.tensor(out, dtype=torch.float64)


SIZES = st.lists(st.integers(1, 40), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(SIZES, st.integers(0, 10**6), st.booleans())
def test_spearman_equals_the_per_graph_loop(sizes: list[int], seed: int, ties: bool) -> None:
    pred, true, batch = ragged(sizes, seed, ties)
    got = spearman_per_graph(pred, true, batch)
    expected = loop_spearman(pred, true, batch)
    assert got.dtype == torch.float64 and got.shape == (len(sizes),)
    # NaN exactly for the graphs with a constant side (one node, or all ties).
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12, equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(SIZES, st.integers(0, 10**6), st.booleans(), st.sampled_from([0.01, 0.1, 0.25, 0.5, 1.0]))
def test_top_fraction_recall_equals_the_per_graph_loop(sizes: list[int], seed: int, ties: bool,
                                                       fraction: float) -> None:  # fmt: skip
    pred, true, batch = ragged(sizes, seed, ties)
    got = top_fraction_recall(pred, true, batch, fraction)
    torch.testing.assert_close(got, loop_recall(pred, true, batch, fraction), rtol=0, atol=0)
    if not ties:  # without ties, the very loop of 0.3, torch.topk included
        topk = lambda v, k: torch.topk(v, k, sorted=False).indices  # noqa: E731
        assert torch.equal(got, loop_recall(pred, true, batch, fraction, topk))


def test_graph_order_in_the_batch_does_not_matter() -> None:
    # Graphs interleaved in the batch vector (unsorted) give the same per-graph values.
    pred, true, batch = ragged([7, 12, 5], 3, ties=True)
    perm = torch.randperm(batch.numel(), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(spearman_per_graph(pred[perm], true[perm], batch[perm]),
                               spearman_per_graph(pred, true, batch), equal_nan=True)  # fmt: skip
    # (Ties go to the lower index, and the permutation reorders them: compare tie-free.)
    pred, true, batch = ragged([7, 12, 5], 3, ties=False)
    assert torch.equal(top_fraction_recall(pred[perm], true[perm], batch[perm], 0.3),
                       top_fraction_recall(pred, true, batch, 0.3))  # fmt: skip


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
@settings(max_examples=30, deadline=None)
@given(st.integers(3, 40), st.integers(0, 10**6), st.booleans())
def test_spearman_matches_scipy(n: int, seed: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, n).astype(float) if ties else rng.random(n)
    b = a + rng.normal(size=n)
    got = float(spearman_per_graph(torch.from_numpy(a), torch.from_numpy(b))[0])
    expected = stats.spearmanr(a, b).statistic
    if np.isnan(expected):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(expected, abs=1e-10)


def test_top_fraction_recall() -> None:
    true = torch.arange(200, dtype=torch.float64)  # the top 1% are the last 2 sites
    pred = true.clone()
    assert float(top_fraction_recall(pred, true)[0]) == 1.0
    pred[-1] = -1.0  # one of the two dangerous sites missed
    assert float(top_fraction_recall(pred, true)[0]) == 0.5
    batch = torch.tensor([0] * 100 + [1] * 100)
    assert top_fraction_recall(true, true, batch, fraction=0.1).tolist() == [1.0, 1.0]
    # k = ceil(0.01 * 300) = 3, not 4 (0.01 * 300 is 3.0000000000000004 in float64).
    true = torch.arange(300, dtype=torch.float64)
    pred = true.clone()
    pred[-3] = -1.0
    assert float(top_fraction_recall(pred, true)[0]) == pytest.approx(2 / 3)
    # Ties go to the lower index: of four equal values the top 2 are sites 0 and 1.
    flat = torch.zeros(4, dtype=torch.float64)
    assert float(top_fraction_recall(flat, torch.tensor([1.0, 1.0, 0, 0]), fraction=0.5)[0]) == 1
    assert float(top_fraction_recall(flat, torch.tensor([0, 0, 1.0, 1.0]), fraction=0.5)[0]) == 0
    with pytest.raises(ValueError, match="fraction"):
        top_fraction_recall(pred, true, fraction=0.0)


def test_empty_graphs_and_bad_shapes() -> None:
    # A graph index without nodes (graph 1) gets NaN; an empty batch gives no value.
    pred = torch.tensor([1.0, 2.0, 3.0, 3.0, 1.0])
    batch = torch.tensor([0, 0, 2, 2, 2])
    assert torch.isnan(spearman_per_graph(pred, pred, batch)).tolist() == [False, True, False]
    assert torch.isnan(top_fraction_recall(pred, pred, batch)).tolist() == [False, True, False]
    empty = torch.zeros(0)
    assert spearman_per_graph(empty, empty).shape == top_fraction_recall(empty, empty).shape == (0,)
    with pytest.raises(ValueError, match="equal shape"):
        spearman_per_graph(pred, pred[:4])
    with pytest.raises(ValueError, match="batch must have shape"):
        top_fraction_recall(pred, pred, batch[:4])


def test_captured_fraction_of_a_hand_made_map() -> None:
    # Sizes 100, 90, 90, 5, 0, ...: the true top 2 hold 190. A forecaster that names
    # the two 90s captures 180/190, one that names 100 and 5 captures 105/190, and the
    # recall cannot tell a 90 from the 100 (it scores both forecasters 1/2).
    true = torch.tensor([100.0, 90, 90, 5] + [0] * 196)
    near = torch.zeros(200)
    near[1], near[2] = 2.0, 1.0
    far = torch.zeros(200)
    far[0], far[3] = 2.0, 1.0
    assert captured_fraction(near, true).item() == pytest.approx(180 / 190, abs=1e-15)
    assert captured_fraction(far, true).item() == pytest.approx(105 / 190, abs=1e-15)
    assert top_fraction_recall(near, true).item() == top_fraction_recall(far, true).item() == 0.5
    assert captured_fraction(true, true).item() == 1.0  # the truth captures everything
    # k = ceil(0.001 * 200) = 1: only the largest counts.
    assert captured_fraction(far, true, fraction=0.001).item() == 1.0
    assert captured_fraction(near, true, fraction=0.001).item() == pytest.approx(0.9)


def brute_captured(pred: torch.Tensor, true: torch.Tensor, batch: torch.Tensor,
                   fraction: float) -> list[float]:  # fmt: skip
    out = []
    for g in range(int(batch.max()) + 1):
        p, t = pred[batch == g].tolist(), true[batch == g].tolist()
        k = max(1, math.ceil(np.float32(len(p) * fraction)))
        by_pred = sorted(range(len(p)), key=lambda i: (-p[i], i))[:k]
        best = sum(sorted(t, reverse=True)[:k])
        out.append(sum(t[i] for i in by_pred) / best if best else math.nan)
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=5), st.integers(0, 10**6),
       st.booleans(), st.sampled_from([0.01, 0.1, 0.5, 1.0]))  # fmt: skip
def test_captured_fraction_equals_a_brute_force_loop(sizes: list[int], seed: int, ties: bool,
                                                     fraction: float) -> None:  # fmt: skip
    pred, true, batch = ragged(sizes, seed, ties)
    got = captured_fraction(pred, true, batch, fraction).tolist()
    expected = brute_captured(pred, true, batch, fraction)
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    assert all(0 <= v <= 1 + 1e-12 for v in got if not math.isnan(v))


def test_alarm_precision_and_recall() -> None:
    # Graph 0: alarms at sites 0, 1, 2; dangerous sites 1, 2, 3 -> precision 2/3, recall
    # 2/3. Graph 1 (threshold 10): no alarm, one dangerous site -> NaN, 0.
    pred = torch.tensor([5.0, 6.0, 7.0, 1.0, 0.0, 3.0])
    true = torch.tensor([0.0, 9.0, 5.0, 5.0, 12.0, 0.0])
    batch = torch.tensor([0, 0, 0, 0, 1, 1])
    precision, recall = alarm_precision_recall(pred, true, torch.tensor([5.0, 10.0]), batch)
    assert precision[0].item() == pytest.approx(2 / 3) and math.isnan(precision[1].item())
    assert recall.tolist() == pytest.approx([2 / 3, 0.0])
    # One threshold for all (3): graph 0 as before; graph 1 misses its site at 12 and
    # raises a false alarm at the site predicted 3.
    precision, recall = alarm_precision_recall(pred, true, 3.0, batch)
    assert precision.tolist() == pytest.approx([2 / 3, 0.0])
    assert recall.tolist() == pytest.approx([2 / 3, 0.0])
    with pytest.raises(ValueError, match="threshold must be one finite number or one per"):
        alarm_precision_recall(pred, true, torch.tensor([1.0, 2.0, 3.0]), batch)
    with pytest.raises(ValueError, match="fraction must lie in"):
        captured_fraction(pred, true, batch, fraction=0.0)
    with pytest.raises(TypeError, match="fraction must be a number"):
        captured_fraction(pred, true, batch, fraction="1%")  # type: ignore[arg-type]
