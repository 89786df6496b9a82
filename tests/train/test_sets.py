"""set_cross_entropy and set_argmax against per-set references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sgnn.train import set_argmax, set_cross_entropy

sizes = st.lists(st.integers(1, 9), min_size=1, max_size=6)


def sets(sizes: list[int], seed: int, ties: bool = False) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(sum(sizes), generator=g, dtype=torch.float64)
    if ties:  # few distinct values, so maxima are often shared
        scores = scores.round()
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    target = torch.stack([torch.randint(n, (), generator=g) for n in sizes])
    return scores, batch, target


@settings(max_examples=40, deadline=None)
@given(sizes, st.integers(0, 10**6))
def test_set_cross_entropy_is_the_per_set_log_softmax(sizes: list[int], seed: int) -> None:
    scores, batch, target = sets(sizes, seed)
    scores = (10 * scores).requires_grad_()  # large scores: the max shift must be right
    loss = set_cross_entropy(scores, batch, target)
    ref = torch.stack(
        [
            -torch.log_softmax(part, 0)[t]
            for part, t in zip(scores.split(sizes), target, strict=True)
        ]
    ).mean()
    torch.testing.assert_close(loss, ref, rtol=0, atol=1e-12)
    (grad,) = torch.autograd.grad(loss, scores)
    (ref_grad,) = torch.autograd.grad(ref, scores)
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-12)


def test_set_cross_entropy_on_equal_sets_is_cross_entropy() -> None:
    scores, batch, target = sets([7] * 5, 3)
    expected = F.cross_entropy(scores.view(5, 7), target)
    torch.testing.assert_close(set_cross_entropy(scores[:, None], batch, target), expected)


@settings(max_examples=40, deadline=None)
@given(sizes, st.integers(0, 10**6), st.booleans())
def test_set_argmax_is_the_per_set_argmax(sizes: list[int], seed: int, ties: bool) -> None:
    scores, batch, _ = sets(sizes, seed, ties)
    ref = torch.stack([torch.argmax(part) for part in scores.split(sizes)])
    assert torch.equal(set_argmax(scores, batch), ref)


def test_set_functions_reject_bad_arguments() -> None:
    scores, batch, target = sets([3, 4], 0)
    with pytest.raises(ValueError, match="scores"):
        set_argmax(scores.view(7, 1, 1), batch)
    with pytest.raises(ValueError, match="scores"):
        set_argmax(batch, batch)
    with pytest.raises(ValueError, match="batch"):
        set_argmax(scores, batch[:-1])
    with pytest.raises(ValueError, match="sorted"):
        set_argmax(scores, batch.flip(0))
    with pytest.raises(ValueError, match="target"):
        set_cross_entropy(scores, batch, target[:1])
    with pytest.raises(ValueError, match="within its set"):
        set_cross_entropy(scores, batch, torch.tensor([0, 4]))
