"""Batched K-armed bandits: many independent instances stepped together, on any device."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .._checks import check_number, check_positive_int
from .._device import check_device

__all__ = ["ArmStats", "BernoulliBandit", "GaussianBandit"]


class _Bandit:
    """Means :math:`\\mu \\in [0, 1]` per instance and arm, drawn from ``U[0, 1]`` (or
    given), and pseudo-regret accounting :math:`\\sum_t (\\mu^* - \\mu_{a_t})`."""

    def __init__(self, num_instances: int, num_arms: int, generator: torch.Generator | None = None,
                 means: Tensor | None = None, device: Any = None) -> None:  # fmt: skip
        b = check_positive_int(num_instances, "num_instances")
        k = check_positive_int(num_arms, "num_arms")
        self.device = check_device(device) or torch.device("cpu")
        self.generator = generator
        if means is None:
            means = torch.rand(b, k, generator=generator, dtype=torch.float64)
        if not isinstance(means, Tensor) or means.shape != (b, k):
            raise ValueError(f"means must be a tensor of shape ({b}, {k})")
        if not torch.all(torch.isfinite(means)):
            raise ValueError("means must be finite")
        self.means = means.to(self.device, torch.float64)
        self.best = self.means.max(dim=1).values
        self.regret = torch.zeros(b, dtype=torch.float64, device=self.device)

    @property
    def num_instances(self) -> int:
        return self.means.size(0)

    @property
    def num_arms(self) -> int:
        return self.means.size(1)

    def pull(self, arms: Tensor) -> Tensor:
        """Pull one arm per instance; returns the rewards and adds the pseudo-regret."""
        if arms.shape != (self.num_instances,) or arms.dtype != torch.long:
            raise ValueError(f"arms must be a long tensor of shape ({self.num_instances},)")
        if arms.numel() and (int(arms.min()) < 0 or int(arms.max()) >= self.num_arms):
            raise ValueError(f"arms must lie in 0..{self.num_arms - 1}")
        mu = self.means.gather(1, arms.to(self.device)[:, None])[:, 0]
        self.regret += self.best - mu
        return self._reward(mu)

    def _noise(self, shape: tuple[int, ...]) -> Tensor:
        # Drawn on the CPU with the (CPU) generator, so results do not depend on the device.
        return torch.rand(shape, generator=self.generator, dtype=torch.float64).to(self.device)


class BernoulliBandit(_Bandit):
    r"""Bernoulli arms: pulling arm :math:`a` of instance :math:`i` pays 1 with
    probability :math:`\mu_{ia}`, else 0.

    Args:
        num_instances (int): Independent bandits :math:`B`, stepped together.
        num_arms (int): Arms :math:`K`.
        generator (torch.Generator, optional): Source of the means and rewards
            (a CPU generator; draws are moved to ``device``).
        means (torch.Tensor, optional): :math:`(B, K)` means in :math:`[0, 1]`;
            drawn from :math:`U[0, 1]` when omitted.
        device (torch.device or str, optional): Where the state lives.
    """

    def __init__(self, num_instances: int, num_arms: int, generator: torch.Generator | None = None,
                 means: Tensor | None = None, device: Any = None) -> None:  # fmt: skip
        super().__init__(num_instances, num_arms, generator, means, device)
        if torch.any((self.means < 0) | (self.means > 1)):
            raise ValueError("Bernoulli means must lie in [0, 1]")

    def _reward(self, mu: Tensor) -> Tensor:
        return (self._noise(tuple(mu.shape)) < mu).to(torch.float64)


class GaussianBandit(_Bandit):
    r"""Gaussian arms: rewards :math:`\mathcal{N}(\mu_{ia}, \sigma^2)`.

    Args:
        num_instances, num_arms, generator, means, device: As in
            :class:`BernoulliBandit`.
        sigma (float, optional): Reward noise, finite :math:`\sigma > 0`. (default: ``1.0``)
    """

    def __init__(self, num_instances: int, num_arms: int,
                 generator: torch.Generator | None = None, means: Tensor | None = None,
                 device: Any = None, sigma: float = 1.0) -> None:  # fmt: skip
        super().__init__(num_instances, num_arms, generator, means, device)
        self.sigma = check_number(sigma, "sigma", 0.0, strict=True)

    def _reward(self, mu: Tensor) -> Tensor:
        noise = torch.randn(tuple(mu.shape), generator=self.generator, dtype=torch.float64)
        return mu + self.sigma * noise.to(self.device)


class ArmStats:
    """What a policy knows after ``t`` pulls: per instance and arm, the number of pulls
    and the sum of rewards.

    Args:
        num_instances (int): :math:`B`.
        num_arms (int): :math:`K`.
        device (torch.device, optional): Where the counts live.
    """

    def __init__(self, num_instances: int, num_arms: int, device: Any = None) -> None:
        self.pulls = torch.zeros(num_instances, num_arms, dtype=torch.float64, device=device)
        self.rewards = torch.zeros_like(self.pulls)
        self.t = 0

    def update(self, arms: Tensor, rewards: Tensor) -> None:
        index = arms[:, None]
        self.pulls.scatter_add_(1, index, torch.ones_like(rewards)[:, None])
        self.rewards.scatter_add_(1, index, rewards[:, None])
        self.t += 1

    @property
    def means(self) -> Tensor:
        """Empirical mean reward of every arm (0 for arms never pulled)."""
        return self.rewards / self.pulls.clamp(min=1)
