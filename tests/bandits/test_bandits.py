"""Bandit environments, reference policies and the equivariant learned policies."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Data

from sgnn.bandits import (
    KLUCB,
    UCB1,
    ArmScorer,
    ArmStats,
    BernoulliBandit,
    EpsilonGreedy,
    GaussianBandit,
    Greedy,
    LearnedPolicy,
    ThompsonSampling,
    arm_features,
    bernoulli_kl,
    play,
    train_policy,
)
from sgnn.testing import assert_permutation_equivariant


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_pseudo_regret_counts_the_gap_of_every_pull_and_an_oracle_has_none() -> None:
    means = torch.tensor([[0.2, 0.9, 0.5], [0.7, 0.1, 0.3]], dtype=torch.float64)
    bandit = BernoulliBandit(2, 3, gen(0), means=means)
    bandit.pull(torch.tensor([0, 1]))
    bandit.pull(torch.tensor([2, 0]))
    torch.testing.assert_close(bandit.regret, torch.tensor([0.7 + 0.4, 0.6 + 0.0],
                                                           dtype=torch.float64))  # fmt: skip

    def oracle(stats: ArmStats, horizon: int, generator=None) -> torch.Tensor:
        return torch.tensor([1, 0])

    assert torch.all(play(oracle, BernoulliBandit(2, 3, gen(1), means=means), 50) == 0)


class Recorded:
    """A policy that records the arms it pulls, ``(B, T)``."""

    def __init__(self, policy) -> None:
        self.policy, self.pulled = policy, []

    def __call__(self, stats: ArmStats, horizon: int, generator=None) -> torch.Tensor:
        arms = self.policy(stats, horizon, generator)
        self.pulled.append(arms)
        return arms

    @property
    def arms(self) -> torch.Tensor:
        return torch.stack(self.pulled, dim=1)


def pseudo_regret(means: torch.Tensor, arms: torch.Tensor) -> torch.Tensor:
    """The sum over the pulls ``arms`` ``(B, T)`` of the best mean minus the pulled arm's."""
    return (means.max(dim=1, keepdim=True).values - means.gather(1, arms)).sum(dim=1)


def test_regret_of_fixed_arms_is_exact() -> None:
    """Always the worst arm: exactly T times the gap between the best and worst means;
    always the best arm: 0."""
    bandit = BernoulliBandit(300, 4, gen(5))
    worst, best = bandit.means.argmin(dim=1), bandit.means.argmax(dim=1)
    gap = bandit.means.max(dim=1).values - bandit.means.min(dim=1).values
    regret = play(lambda stats, horizon, g: worst, bandit, 25)
    torch.testing.assert_close(regret, 25 * gap, rtol=1e-12, atol=1e-12)
    assert torch.all(play(lambda s, h, g: best, BernoulliBandit(300, 4, gen(5)), 25) == 0)


def test_rewards_are_bernoulli_with_the_arm_means() -> None:
    means = torch.tensor([[0.1, 0.8]], dtype=torch.float64).expand(4000, 2)
    bandit = BernoulliBandit(4000, 2, gen(0), means=means)
    for arm, mu in ((0, 0.1), (1, 0.8)):
        rewards = bandit.pull(torch.full((4000,), arm))
        assert set(rewards.unique().tolist()) <= {0.0, 1.0}
        assert abs(float(rewards.mean()) - mu) < 4 * math.sqrt(mu * (1 - mu) / 4000)
    g = GaussianBandit(4000, 2, gen(1), means=means, sigma=0.5).pull(torch.zeros(4000).long())
    assert abs(float(g.mean()) - 0.1) < 0.05 and abs(float(g.std()) - 0.5) < 0.05


def test_ucb1_index_by_hand() -> None:
    # After 3 pulls: arm 0 pulled twice (rewards 1, 0), arm 1 once (reward 1), arm 2 never.
    stats = ArmStats(1, 3)
    for arm, reward in ((0, 1.0), (0, 0.0), (1, 1.0)):
        stats.update(torch.tensor([arm]), torch.tensor([reward], dtype=torch.float64))
    assert int(UCB1()(stats, 10, gen(0))) == 2  # the untried arm first
    stats.update(torch.tensor([2]), torch.tensor([0.0], dtype=torch.float64))
    # t = 4: indices 0.5 + sqrt(2 ln 4 / 2) = 1.677, 1 + sqrt(2 ln 4) = 2.665, 0 + 1.665.
    assert int(UCB1()(stats, 10, gen(0))) == 1
    stats.update(torch.tensor([1]), torch.tensor([0.0], dtype=torch.float64))
    # t = 5: 0.5 + sqrt(ln 5) = 1.769, 0.5 + sqrt(ln 5) = 1.769, 0 + sqrt(2 ln 5) = 1.794.
    assert int(UCB1()(stats, 10, gen(0))) == 2


def test_thompson_posterior_updates_and_klucb_bound() -> None:
    stats = ArmStats(1, 2)
    for arm, reward in ((0, 1.0), (0, 1.0), (0, 0.0), (1, 0.0)):
        stats.update(torch.tensor([arm]), torch.tensor([reward], dtype=torch.float64))
    a, b = ThompsonSampling().posterior(stats)
    torch.testing.assert_close(a, torch.tensor([[3.0, 1.0]], dtype=torch.float64))
    torch.testing.assert_close(b, torch.tensor([[2.0, 2.0]], dtype=torch.float64))
    # Draws follow Beta(3, 2) vs Beta(1, 2): arm 0 wins with probability 1 - P(X < Y) = 0.8.
    wins = 0
    g = gen(3)
    for _ in range(2000):
        wins += int(ThompsonSampling()(stats, 10, g)) == 0
    assert abs(wins / 2000 - 0.8) < 0.04
    # KL-UCB: arm 0 has mean 0.5 from 4 pulls, arm 1 mean 0.6 from 100. With t = 104 the
    # bounds solve n kl(p, q) = ln t: q0 = 0.93 > q1 = 0.69, so the less-known arm 0 wins;
    # with arm 0 also pulled 100 times, q0 = 0.60 < q1 and arm 1 wins.
    for n0, expected in ((4, 0), (100, 1)):
        stats = ArmStats(1, 2)
        stats.pulls = torch.tensor([[float(n0), 100.0]], dtype=torch.float64)
        stats.rewards = torch.tensor([[0.5 * n0, 60.0]], dtype=torch.float64)
        stats.t = n0 + 100
        assert int(KLUCB(c=0.0)(stats, 1000, gen(0))) == expected
        q = torch.linspace(0, 1, 100001, dtype=torch.float64)[None, :]
        bounds = [float(q[0][(n * bernoulli_kl(torch.tensor(p), q[0]) <= math.log(stats.t))
                             & (q[0] >= p)].max()) for p, n in ((0.5, n0), (0.6, 100))]  # fmt: skip
        assert (bounds[0] > bounds[1]) == (expected == 0)


# The anchors of the issue (2000 Bernoulli instances, K = 10, mu ~ U[0, 1]) and their
# standard errors as measured here; 400 instances must land within 4 standard errors. A
# uniformly random arm loses E[max mu - mean mu] = K / (K + 1) - 1/2 per pull: 40.9 at
# T = 100, three times Thompson's loss.
ANCHORS = {"UCB1": (27.5, UCB1()), "Thompson": (13.8, ThompsonSampling()),
           "KL-UCB": (14.4, KLUCB()), "greedy": (9.2, Greedy()),
           "random": (100 * (10 / 11 - 0.5), EpsilonGreedy(1.0))}  # fmt: skip


@pytest.mark.parametrize("name", list(ANCHORS))
def test_reference_policies_reproduce_the_anchors_at_t_100(name: str) -> None:
    anchor, policy = ANCHORS[name]
    recorded, bandit = Recorded(policy), BernoulliBandit(400, 10, gen(11))
    regret = play(recorded, bandit, 100, gen(12))
    se = float(regret.std()) / math.sqrt(400)
    assert abs(float(regret.mean()) - anchor) < 4 * se + 0.2, (float(regret.mean()), se)
    # The regret is the sum of the gaps of the arms pulled.
    assert recorded.arms.shape == (400, 100)
    torch.testing.assert_close(regret, pseudo_regret(bandit.means, recorded.arms),
                               rtol=1e-12, atol=1e-9)  # fmt: skip


def test_policies_are_reproducible_with_a_seed_and_epsilon_greedy_explores() -> None:
    for policy in (UCB1(), ThompsonSampling(), KLUCB(), Greedy(), EpsilonGreedy(0.2)):
        runs = [play(policy, BernoulliBandit(50, 5, gen(1)), 30, gen(2)) for _ in range(2)]
        assert torch.equal(runs[0], runs[1]), policy
    stats = ArmStats(2000, 4)
    stats.update(torch.zeros(2000, dtype=torch.long), torch.ones(2000, dtype=torch.float64))
    for arm in (1, 2, 3):  # every arm tried once: greedy would stay on arm 0
        stats.update(torch.full((2000,), arm), torch.zeros(2000, dtype=torch.float64))
    arms = EpsilonGreedy(0.2)(stats, 10, gen(4))
    assert abs(float((arms != 0).double().mean()) - 0.2 * 3 / 4) < 0.03


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="num_arms must be a positive int"):
        BernoulliBandit(3, 0)
    with pytest.raises(ValueError, match="Bernoulli means"):
        BernoulliBandit(1, 2, means=torch.tensor([[0.5, 1.5]]))
    with pytest.raises(ValueError, match="arms must lie"):
        BernoulliBandit(1, 2).pull(torch.tensor([2]))
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonGreedy(1.5)
    with pytest.raises(ValueError, match="structure"):
        ArmScorer("mlp")
    with pytest.raises(ValueError, match="horizon must be a positive int"):
        play(Greedy(), BernoulliBandit(1, 2), 0)


def test_gaussian_thompson_has_a_flat_prior_wherever_the_means_lie() -> None:
    """Means in [5, 7]: the Gaussian posterior must not drag untried or little-tried arms
    towards 0 (it once pulled the worst arm for ever, the maximum regret)."""
    means = 5 + 2 * torch.rand(300, 5, generator=gen(3), dtype=torch.float64)
    thompson = play(ThompsonSampling(gaussian=True), GaussianBandit(300, 5, gen(4), means=means),
                    200, gen(5))  # fmt: skip
    uniform = play(EpsilonGreedy(1.0), GaussianBandit(300, 5, gen(4), means=means), 200, gen(5))
    assert float(thompson.mean()) < 0.35 * float(uniform.mean()), (thompson.mean(), uniform.mean())
    one = GaussianBandit(1, 3, gen(0), means=torch.tensor([[5.0, 6.0, 7.0]], dtype=torch.float64))
    assert float(play(ThompsonSampling(gaussian=True), one, 50, gen(1))) < 50


def test_gaussian_sigma_and_klucb_reward_range_are_checked() -> None:
    for sigma in (math.inf, math.nan, 0.0, -1.0):
        with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
            GaussianBandit(1, 3, sigma=sigma)
    with pytest.raises(TypeError, match="sigma"):
        GaussianBandit(1, 3, sigma="1")  # type: ignore[arg-type]
    means = torch.tensor([[5.0, 6.0, 7.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"KLUCB assumes rewards in \[0, 1\]"):
        play(KLUCB(), GaussianBandit(1, 3, gen(0), means=means), 10, gen(1))


@pytest.mark.parametrize("structure", ["index", "deepsets", "pairwise"])
def test_learned_policies_are_permutation_equivariant_over_arms(structure: str) -> None:
    torch.manual_seed(0)
    stats = ArmStats(3, 6)
    g = gen(0)
    for _ in range(10):
        arms = torch.randint(0, 6, (3,), generator=g)
        stats.update(arms, torch.randint(0, 2, (3,), generator=g).double())
    x = arm_features(stats, 20).reshape(18, -1)
    data = Data(x=x, batch=torch.arange(3).repeat_interleave(6))
    scorer = ArmScorer(structure, hidden_channels=8)
    assert_permutation_equivariant(scorer, data, forward=lambda m, d: m(d.x, d.batch))
    # Action probabilities permute with the arms, exactly, whatever K.
    probs = torch.softmax(scorer(x.float(), data.batch).view(3, 6), dim=1)
    perm = torch.randperm(6, generator=g)
    x_perm = x.view(3, 6, -1)[:, perm].reshape(18, -1)
    probs_perm = torch.softmax(scorer(x_perm.float(), data.batch).view(3, 6), dim=1)
    torch.testing.assert_close(probs_perm, probs[:, perm], rtol=0, atol=1e-6)


def test_a_short_training_run_lowers_regret_and_plays_any_number_of_arms() -> None:
    torch.manual_seed(0)
    scorer = ArmScorer("index", hidden_channels=16)
    curve = train_policy(scorer, num_arms=5, horizon=20, iterations=40, batch_size=128,
                         lr=1e-2, progress=False)  # fmt: skip
    assert len(curve) == 40 and sum(curve[-10:]) < sum(curve[:10])
    for k in (3, 50):  # weights do not depend on K
        policy = Recorded(LearnedPolicy(scorer))
        bandit = BernoulliBandit(200, k, gen(1))
        regret = play(policy, bandit, 10, gen(2))
        assert regret.shape == (200,)
        torch.testing.assert_close(regret, pseudo_regret(bandit.means, policy.arms),
                                   rtol=1e-12, atol=1e-12)  # fmt: skip
        # Trained at K = 5, it loses far less than a uniformly random arm on the same
        # instances at K = 3 and 50 (an untrained scorer loses more than the random arm).
        uniform = play(EpsilonGreedy(1.0), BernoulliBandit(200, k, gen(1)), 10, gen(2))
        assert float(regret.mean()) < 0.8 * float(uniform.mean()), (k, regret.mean(), uniform)


def test_scorer_models_and_the_deprecated_name() -> None:
    import sgnn.bandits

    assert sgnn.bandits.SCORER_MODELS == ("index", "deepsets", "pairwise")
    for name in sgnn.bandits.SCORER_MODELS:
        assert ArmScorer(name).structure == name
    with pytest.warns(DeprecationWarning, match="SCORER_MODELS"):
        assert sgnn.bandits.STRUCTURES is sgnn.bandits.SCORER_MODELS
    with pytest.raises(AttributeError):
        sgnn.bandits.NO_SUCH_NAME  # noqa: B018
