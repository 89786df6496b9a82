"""The per-graph metrics of avalanche predictions against set-by-set references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sgnn.tasks import (
    footprint_exact,
    footprint_f1,
    footprint_iou,
    log_count_mae,
    relative_size_error,
)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=4), st.integers(0, 10**6))
def test_iou_f1_and_exact_match_sets(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    pred = torch.from_numpy(rng.random(sum(sizes)) < 0.3)
    true = torch.from_numpy(rng.random(sum(sizes)) < 0.3)
    true[: sizes[0]] = pred[: sizes[0]]  # one exact graph at least
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    iou, f1 = footprint_iou(pred, true, batch), footprint_f1(pred, true, batch)
    exact = footprint_exact(pred, true, batch)
    for g in range(len(sizes)):
        p = set(np.flatnonzero(pred[batch == g].numpy()))
        t = set(np.flatnonzero(true[batch == g].numpy()))
        exp_iou = len(p & t) / len(p | t) if p | t else 1.0
        exp_f1 = 2 * len(p & t) / (len(p) + len(t)) if p or t else 1.0
        assert float(iou[g]) == pytest.approx(exp_iou)
        assert float(f1[g]) == pytest.approx(exp_f1)
        assert float(exact[g]) == float(p == t)
    assert exact[0] == 1


def test_log_count_mae_and_relative_error() -> None:
    pred = torch.tensor([0.0, 1.0, 2.0, 0.5])
    true = torch.tensor([0, 1, 6, 0])
    batch = torch.tensor([0, 0, 1, 1])
    expected = [np.mean([0, abs(1 - np.log(2))]), np.mean([abs(2 - np.log(7)), 0.5])]
    np.testing.assert_allclose(log_count_mae(pred, true, batch).numpy(), expected)
    relative = relative_size_error(torch.tensor([3.0, 0.0]), torch.tensor([4, 0]))
    np.testing.assert_allclose(relative.numpy(), [0.25, 0.0])
    with pytest.raises(ValueError, match="equal shape"):
        footprint_iou(pred > 0, true[:3] > 0)


def test_the_metrics_left_sgnn_train() -> None:
    # Task code: moved to sgnn.tasks in 0.4 (sgnn.train stays generic).
    import sgnn.train

    for name in ("footprint_iou", "footprint_f1", "log_count_mae", "relative_size_error"):
        assert not hasattr(sgnn.train, name), name
