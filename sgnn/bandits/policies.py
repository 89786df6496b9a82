r"""Reference bandit policies, vectorised over instances, and the loop that plays them.

Every policy picks one arm per instance from :class:`~sgnn.bandits.ArmStats`:
arms never pulled come first, and ties are broken uniformly at random, so no
arm index is favoured (the policies are permutation-equivariant in law).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._checks import check_positive_int
from .._device import values_are_checked
from .env import ArmStats, BernoulliBandit, GaussianBandit

__all__ = [
    "KLUCB",
    "UCB1",
    "EpsilonGreedy",
    "Greedy",
    "ThompsonSampling",
    "argmax_random_ties",
    "bernoulli_kl",
    "play",
]


def argmax_random_ties(scores: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Row-wise argmax of ``scores`` :math:`(B, K)`, ties broken uniformly at random."""
    top = scores >= scores.max(dim=1, keepdim=True).values
    noise = torch.rand(scores.shape, generator=generator, dtype=torch.float64).to(scores.device)
    return torch.where(top, noise, -1.0).argmax(dim=1)


def _untried_first(index: Tensor, stats: ArmStats) -> Tensor:
    return torch.where(stats.pulls == 0, math.inf, index)


class Greedy:
    """Pull every arm once, then always the arm with the best empirical mean."""

    def __call__(self, stats: ArmStats, horizon: int, generator: torch.Generator | None = None
                 ) -> Tensor:  # fmt: skip
        return argmax_random_ties(_untried_first(stats.means, stats), generator)

    def __repr__(self) -> str:
        return "Greedy()"


class EpsilonGreedy:
    r"""With probability :math:`\varepsilon` a uniformly random arm, else :class:`Greedy`.

    Args:
        epsilon (float, optional): :math:`\varepsilon \in [0, 1]`. (default: ``0.1``)
    """

    def __init__(self, epsilon: float = 0.1) -> None:
        if not isinstance(epsilon, (int, float)) or not 0 <= epsilon <= 1:
            raise ValueError(f"epsilon must be a number in [0, 1], got {epsilon!r}")
        self.epsilon = float(epsilon)

    def __call__(self, stats: ArmStats, horizon: int, generator: torch.Generator | None = None
                 ) -> Tensor:  # fmt: skip
        b, k = stats.pulls.shape
        greedy = argmax_random_ties(_untried_first(stats.means, stats), generator)
        explore = torch.rand(b, generator=generator, dtype=torch.float64) < self.epsilon
        random_arm = torch.randint(0, k, (b,), generator=generator)
        return torch.where(explore.to(greedy.device), random_arm.to(greedy.device), greedy)

    def __repr__(self) -> str:
        return f"EpsilonGreedy(epsilon={self.epsilon})"


class UCB1:
    r"""Auer, Cesa-Bianchi and Fischer (2002): after one pull of each arm, the arm
    maximising :math:`\hat\mu_a + \sqrt{2 \ln t / n_a}`, with :math:`t` the pulls so far."""

    def __call__(self, stats: ArmStats, horizon: int, generator: torch.Generator | None = None
                 ) -> Tensor:  # fmt: skip
        t = max(stats.t, 1)
        bonus = torch.sqrt(2 * math.log(t) / stats.pulls.clamp(min=1))
        return argmax_random_ties(_untried_first(stats.means + bonus, stats), generator)

    def __repr__(self) -> str:
        return "UCB1()"


def bernoulli_kl(p: Tensor, q: Tensor, eps: float = 1e-12) -> Tensor:
    r""":math:`\mathrm{kl}(p, q) = p \ln\frac{p}{q} + (1-p)\ln\frac{1-p}{1-q}`, elementwise."""
    p = p.clamp(eps, 1 - eps)
    q = q.clamp(eps, 1 - eps)
    return p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))


class KLUCB:
    r"""KL-UCB for Bernoulli rewards (Garivier and Cappé, 2011): the arm maximising
    :math:`\max\{q \ge \hat\mu_a : n_a\, \mathrm{kl}(\hat\mu_a, q) \le \ln t + c \ln\ln t\}`,
    the bound found by bisection. The bound assumes rewards in :math:`[0, 1]`: an
    empirical mean outside it raises a ``ValueError`` (checked on the CPU, where reading
    the statistics costs no synchronisation).

    Args:
        c (float, optional): :math:`c \ge 0`; 3 as Garivier and Cappé recommend.
            (default: ``3.0``)
        steps (int, optional): Bisection steps (precision :math:`2^{-\text{steps}}`).
            (default: ``16``)
    """

    def __init__(self, c: float = 3.0, steps: int = 16) -> None:
        if not isinstance(c, (int, float)) or not c >= 0:
            raise ValueError(f"c must be a non-negative number, got {c!r}")
        self.c = float(c)
        self.steps = check_positive_int(steps, "steps")

    def __call__(self, stats: ArmStats, horizon: int, generator: torch.Generator | None = None
                 ) -> Tensor:  # fmt: skip
        if values_are_checked(stats.rewards):
            outside = (stats.rewards < -1e-9 * stats.pulls) | (stats.rewards > (1 + 1e-9)
                                                                * stats.pulls)  # fmt: skip
            if bool(outside.any()):
                mean = float(stats.means[outside][0])
                raise ValueError(
                    f"KLUCB assumes rewards in [0, 1] (Bernoulli), but an arm has the mean "
                    f"reward {mean:g}; use UCB1 or ThompsonSampling(gaussian=True) for "
                    "rewards outside [0, 1], or rescale them into [0, 1]")
        t = max(stats.t, 1)
        level = math.log(t) + (self.c * math.log(math.log(t)) if t > math.e else 0.0)
        n, mean = stats.pulls.clamp(min=1), stats.means.clamp(0, 1)
        lo, hi = mean.clone(), torch.ones_like(mean)
        for _ in range(self.steps):
            mid = (lo + hi) / 2
            inside = n * bernoulli_kl(mean, mid) <= level
            lo, hi = torch.where(inside, mid, lo), torch.where(inside, hi, mid)
        return argmax_random_ties(_untried_first(lo, stats), generator)

    def __repr__(self) -> str:
        return f"KLUCB(c={self.c})"


def beta_draw(a: Tensor, b: Tensor, generator: torch.Generator | None = None) -> Tensor:
    r"""One draw from :math:`\mathrm{Beta}(a, b)` per entry, as :math:`X / (X + Y)` with
    :math:`X \sim \Gamma(a)`, :math:`Y \sim \Gamma(b)`; reproducible from ``generator``
    (torch's gamma sampler takes none: it is seeded from ours, the global RNG left alone)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        x, y = torch._standard_gamma(a.cpu()), torch._standard_gamma(b.cpu())
    return (x / (x + y)).to(a.device)


class ThompsonSampling:
    r"""Thompson sampling (Thompson, 1933). Bernoulli rewards: a Beta(1, 1) prior,
    so arm :math:`a` is scored by a draw from :math:`\mathrm{Beta}(1 + S_a, 1 + n_a -
    S_a)` (:math:`S_a` its total reward). With ``gaussian=True``: a flat prior and
    unit-variance rewards, so arms never pulled come first, and then draws from
    :math:`\mathcal{N}(S_a / n_a, 1 / n_a)`, whatever the location of the means.

    Args:
        gaussian (bool, optional): The Gaussian-reward posterior. (default: :obj:`False`)
    """

    def __init__(self, gaussian: bool = False) -> None:
        self.gaussian = bool(gaussian)

    def posterior(self, stats: ArmStats) -> tuple[Tensor, Tensor]:
        """Beta parameters :math:`(\\alpha, \\beta)`, or the Gaussian mean and std (for
        arms never pulled, whose flat posterior is improper: mean 0 and std 1)."""
        if self.gaussian:
            n = stats.pulls.clamp(min=1)
            return stats.rewards / n, 1 / torch.sqrt(n)
        return 1 + stats.rewards, 1 + stats.pulls - stats.rewards

    def __call__(self, stats: ArmStats, horizon: int, generator: torch.Generator | None = None
                 ) -> Tensor:  # fmt: skip
        a, b = self.posterior(stats)
        if self.gaussian:
            noise = torch.randn(a.shape, generator=generator, dtype=torch.float64)
            return argmax_random_ties(_untried_first(a + b * noise.to(a.device), stats),
                                      generator)  # fmt: skip
        return argmax_random_ties(beta_draw(a, b, generator), generator)

    def __repr__(self) -> str:
        return f"ThompsonSampling(gaussian={self.gaussian})"


Policy = Callable[[ArmStats, int, Any], Tensor]


def play(policy: Policy, bandit: BernoulliBandit | GaussianBandit, horizon: int,
         generator: torch.Generator | None = None,
         callback: Callable[[int, Tensor], None] | None = None) -> Tensor:  # fmt: skip
    """Play ``policy`` on every instance of ``bandit`` for ``horizon`` pulls.

    Args:
        policy (Callable): ``policy(stats, horizon, generator)`` returning one arm
            per instance.
        bandit: A fresh bandit (its regret counter starts where it is).
        horizon (int): Pulls :math:`T`.
        generator (torch.Generator, optional): The policy's randomness.
        callback (Callable, optional): ``callback(t, regret)`` after every pull.

    Returns:
        torch.Tensor: The pseudo-regret of every instance after ``horizon`` pulls, :math:`(B,)`.
    """
    horizon = check_positive_int(horizon, "horizon")
    stats = ArmStats(bandit.num_instances, bandit.num_arms, bandit.device)
    for t in range(horizon):
        with torch.no_grad():
            arms = policy(stats, horizon, generator)
        stats.update(arms, bandit.pull(arms))
        if callback is not None:
            callback(t, bandit.regret)
    return bandit.regret.clone()
