"""Features that keep their range at any horizon, posterior draws, training over horizons."""

from __future__ import annotations

import pytest
import torch

from sgnn.bandits import ArmScorer, ArmStats, arm_features, beta_draw, train_policy


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_beta_draw_matches_the_beta_moments_and_is_seeded() -> None:
    a = torch.tensor([1.0, 3.0, 20.0], dtype=torch.float64).repeat(40_000, 1)
    b = torch.tensor([1.0, 7.0, 5.0], dtype=torch.float64).repeat(40_000, 1)
    state = torch.get_rng_state()
    x = beta_draw(a, b, gen(0))
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left alone
    assert torch.equal(x, beta_draw(a, b, gen(0)))
    mean = a[0] / (a[0] + b[0])
    var = a[0] * b[0] / ((a[0] + b[0]) ** 2 * (a[0] + b[0] + 1))
    torch.testing.assert_close(x.mean(0), mean, atol=5 * (var / 40_000).sqrt().max().item(),
                               rtol=0)  # fmt: skip
    torch.testing.assert_close(x.var(0), var, rtol=0.05, atol=0)


@pytest.mark.parametrize("horizon", [31, 100, 10_000, 1_000_000])
def test_features_stay_in_their_training_range_at_any_horizon(horizon: int) -> None:
    stats = ArmStats(4, 5)
    g = gen(1)
    for _ in range(30):
        arms = torch.randint(0, 5, (4,), generator=g)
        stats.update(arms, torch.randint(0, 2, (4,), generator=g).double())
    x = arm_features(stats, horizon, gen(2))
    assert x.shape == (4, 5, 9)
    assert bool((x >= 0).all() and (x <= 1).all())
    # the time left: its fraction, and 1 / sqrt(pulls left + 1), the same for every arm
    left = horizon - 30
    torch.testing.assert_close(x[..., 7], torch.full((4, 5), left / horizon, dtype=x.dtype))
    torch.testing.assert_close(x[..., 8], torch.full((4, 5), (left + 1) ** -0.5, dtype=x.dtype))
    # the posterior draw is seeded by the generator and lies between 0 and 1
    assert torch.equal(x, arm_features(stats, horizon, gen(2)))
    assert not torch.equal(x[..., 3], arm_features(stats, horizon, gen(3))[..., 3])


def test_training_cycles_through_horizons() -> None:
    torch.manual_seed(0)
    scorer = ArmScorer("index", hidden_channels=8)
    seen: list[int] = []
    curve = train_policy(scorer, num_arms=3, horizon=[5, 12], iterations=4, batch_size=16,
                         progress=False, callback=lambda it, r: seen.append(it))  # fmt: skip
    assert len(curve) == 4 and seen == [0, 1, 2, 3]
    # the regret of a game grows with its length: iterations alternate 5 and 12 pulls,
    # and a 12-pull game of an untrained policy loses more than a 5-pull one
    assert curve[1] > curve[0] and curve[3] > curve[2]
    with pytest.raises(ValueError, match="horizon"):
        train_policy(scorer, horizon=[], iterations=1, progress=False)
    with pytest.raises(ValueError, match="horizon"):
        train_policy(scorer, horizon=[10, 0], iterations=1, progress=False)


def test_an_untrained_thompson_prior_scorer_plays_thompson_sampling_exactly() -> None:
    from sgnn.bandits import BernoulliBandit, LearnedPolicy, ThompsonSampling, play

    torch.manual_seed(0)
    scorer = ArmScorer("deepsets", hidden_channels=8, thompson_prior=True)
    assert "thompson_prior=True" in repr(scorer)
    learned = play(LearnedPolicy(scorer), BernoulliBandit(50, 6, gen(1)), 40, gen(2))
    thompson = play(ThompsonSampling(), BernoulliBandit(50, 6, gen(1)), 40, gen(2))
    torch.testing.assert_close(learned, thompson, rtol=0, atol=0)
    with pytest.raises(ValueError, match="thompson_prior"):
        ArmScorer("index", in_channels=5, thompson_prior=True)


def test_the_thompson_prior_correction_is_counted_in_posterior_standard_deviations() -> None:
    from sgnn.bandits import THOMPSON_SCALE

    scorer = ArmScorer("index", hidden_channels=4, thompson_prior=True)
    with torch.no_grad():  # a network whose output is the constant -1.5
        scorer.head.bias.fill_(-1.5)
    stats = ArmStats(3, 4)
    stats.update(torch.tensor([0, 1, 2]), torch.tensor([1.0, 0, 1], dtype=torch.float64))
    x = arm_features(stats, 50, gen(0)).reshape(12, -1).float()
    batch = torch.arange(3).repeat_interleave(4)
    expected = THOMPSON_SCALE * (x[:, 3] - 1.5 * x[:, 2])
    torch.testing.assert_close(scorer(x, batch), expected)
    # A pulled arm's posterior is narrower than an untried one's: the same correction
    # moves its score less.
    assert x[0, 2] < x[3, 2]
