"""Metrics against straightforward numpy/scipy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sgnn.train import (
    footprint_f1,
    footprint_iou,
    log_count_mae,
    relative_size_error,
    spearman_per_graph,
    top_fraction_recall,
)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=4), st.integers(0, 10**6))
def test_iou_and_f1_match_sets(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    pred = torch.from_numpy(rng.random(sum(sizes)) < 0.3)
    true = torch.from_numpy(rng.random(sum(sizes)) < 0.3)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    iou, f1 = footprint_iou(pred, true, batch), footprint_f1(pred, true, batch)
    for g in range(len(sizes)):
        p = set(np.flatnonzero(pred[batch == g].numpy()))
        t = set(np.flatnonzero(true[batch == g].numpy()))
        exp_iou = len(p & t) / len(p | t) if p | t else 1.0
        exp_f1 = 2 * len(p & t) / (len(p) + len(t)) if p or t else 1.0
        assert float(iou[g]) == pytest.approx(exp_iou)
        assert float(f1[g]) == pytest.approx(exp_f1)


def test_log_count_mae_and_relative_error() -> None:
    pred = torch.tensor([0.0, 1.0, 2.0, 0.5])
    true = torch.tensor([0, 1, 6, 0])
    batch = torch.tensor([0, 0, 1, 1])
    expected = [np.mean([0, abs(1 - np.log(2))]), np.mean([abs(2 - np.log(7)), 0.5])]
    np.testing.assert_allclose(log_count_mae(pred, true, batch).numpy(), expected)
    np.testing.assert_allclose(relative_size_error(torch.tensor([3.0, 0.0]),
                                                   torch.tensor([4, 0])).numpy(), [0.25, 0.0])


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
    with pytest.raises(ValueError, match="fraction"):
        top_fraction_recall(pred, true, fraction=0.0)
