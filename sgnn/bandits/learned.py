r"""Permutation-equivariant learned bandit policies, and their policy-gradient training.

Each arm is a set element described by its own statistics, a draw from its
posterior and two global scalars of the time left (:func:`arm_features`); a network
scores every arm and
the policy is a softmax over each instance's arms. Three structures:

* ``"index"`` -- an MLP on each arm alone (an index policy, like UCB: no interaction);
* ``"deepsets"`` -- :class:`~sgnn.nn.DeepSetsLayer` layers (each arm sees a pooled summary);
* ``"pairwise"`` -- :class:`~sgnn.nn.PairwiseSetConv` layers (each arm compares itself
  with every other).

The weights do not depend on :math:`K` or :math:`T`, so a policy trained on
:math:`K = 10` arms plays any number of arms.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .._checks import check_positive_int
from .._progress import tqdm_disable
from ..nn import DeepSetsLayer, PairwiseSetConv
from .env import ArmStats, BernoulliBandit
from .policies import argmax_random_ties, beta_draw

__all__ = ["SCORER_MODELS", "THOMPSON_SCALE", "ArmScorer", "LearnedPolicy", "arm_features",
           "train_policy"]

#: The network structures of :class:`ArmScorer`.
SCORER_MODELS = ("index", "deepsets", "pairwise")
#: Features per arm (see :func:`arm_features`).
_NUM_FEATURES = 9
#: The inverse temperature of an :class:`ArmScorer` with ``thompson_prior``: its score
#: is this times (posterior draw + learned correction), so that draws 0.01 apart differ
#: by one unit of logit and the softmax sampled in training is close to the argmax
#: played (a hotter softmax would teach the correction to undo its extra exploration).
THOMPSON_SCALE = 100.0


def arm_features(stats: ArmStats, horizon: int, generator: torch.Generator | None = None
                 ) -> Tensor:  # fmt: skip
    r"""Per-arm features :math:`(B, K, 9)`: empirical mean, Beta(1, 1) posterior mean and
    standard deviation, a draw from that posterior (Thompson sampling's score, drawn
    with ``generator``), :math:`1/\sqrt{n + 1}`, an untried flag, :math:`\ln(n + 1)/10`,
    and, the same for every arm, the fraction of the horizon left and
    :math:`1/\sqrt{\text{pulls left} + 1}`.

    Every feature stays in :math:`[0, 1]` at any horizon (only :math:`\ln(n + 1)/10` can
    exceed 1, past 22 000 pulls of one arm), so a policy trained on short horizons meets
    no feature value outside its training range on long ones; the posterior draw lets
    it explore as Thompson sampling does at any horizon.
    """
    n, s = stats.pulls, stats.rewards
    a, b = 1 + s, 1 + n - s
    post_mean = a / (a + b)
    post_std = torch.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    draw = beta_draw(a, b, generator)
    left = max(horizon - stats.t, 0)
    glob = torch.tensor([left / horizon, 1 / math.sqrt(left + 1)], dtype=n.dtype,
                        device=n.device)  # fmt: skip
    return torch.cat([
        torch.stack([stats.means, post_mean, post_std, draw, 1 / torch.sqrt(n + 1),
                     (n == 0).to(n.dtype), torch.log1p(n) / 10], dim=-1),
        glob.expand(*n.shape, 2),
    ], dim=-1)  # fmt: skip


class ArmScorer(nn.Module):
    r"""Scores every arm of every instance: :math:`(N, F) \to (N,)` for the
    :math:`N = \sum_i K_i` arms, with ``batch`` assigning arms to instances.

    Permutation-equivariant: permuting the arms of an instance permutes their
    scores (tested with :func:`~sgnn.testing.assert_permutation_equivariant`).

    With ``thompson_prior`` the score is :math:`\tau\,(\theta_a + s_a\,g(x)_a)`, where
    :math:`\theta_a` is the posterior draw of :func:`arm_features` (column 3),
    :math:`s_a` the posterior's standard deviation (column 2) and :math:`\tau` =
    :data:`THOMPSON_SCALE`: the untrained policy (:math:`g = 0`, its last layer starts
    at zero) plays Thompson sampling, and training learns where to depart from it. The
    correction is counted in posterior standard deviations, so it shrinks as an arm's
    posterior narrows: a bounded correction shifts each arm's posterior by a bounded
    number of standard deviations and cannot stop an arm from being tried again at long
    horizons, as a fixed shift of its mean would.

    Args:
        structure (str): ``"index"``, ``"deepsets"`` or ``"pairwise"``.
        in_channels (int, optional): Features per arm. (default: ``9``)
        hidden_channels (int, optional): Width. (default: ``32``)
        num_layers (int, optional): Hidden layers. (default: ``2``)
        thompson_prior (bool, optional): Add the scaled posterior draw to the score.
            (default: :obj:`False`)

    Shapes:
        - **input:** arm features :math:`(N, F)`, ``batch`` :math:`(N,)`
        - **output:** scores :math:`(N,)`
    """

    def __init__(self, structure: str, in_channels: int = _NUM_FEATURES,
                 hidden_channels: int = 32, num_layers: int = 2,
                 thompson_prior: bool = False) -> None:  # fmt: skip
        super().__init__()
        if structure not in SCORER_MODELS:
            raise ValueError(f"structure must be one of {SCORER_MODELS}, got {structure!r}")
        check_positive_int(in_channels, "in_channels")
        check_positive_int(hidden_channels, "hidden_channels")
        check_positive_int(num_layers, "num_layers")
        self.structure = structure
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.thompson_prior = bool(thompson_prior)
        if self.thompson_prior and in_channels != _NUM_FEATURES:
            raise ValueError(f"thompson_prior reads column 3 of arm_features: in_channels must "
                             f"be {_NUM_FEATURES}, got {in_channels}")  # fmt: skip
        widths = [in_channels] + [hidden_channels] * num_layers
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths):
            if structure == "index":
                layers.append(nn.Linear(c_in, c_out))
            elif structure == "deepsets":
                layers.append(DeepSetsLayer(c_in, c_out, aggr="max"))
            else:
                layers.append(PairwiseSetConv(c_in, c_out, aggr="max"))
        self.layers = nn.ModuleList(layers)
        self.head = nn.Linear(hidden_channels, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in [*self.layers, self.head]:
            layer.reset_parameters()
        if self.thompson_prior:  # start as Thompson sampling
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor, batch: Tensor | None = None) -> Tensor:
        h = x
        for layer in self.layers:
            h = layer(h) if self.structure == "index" else layer(h, batch=batch)
            h = torch.relu(h)
        out = self.head(h)[:, 0]
        return THOMPSON_SCALE * (x[:, 3] + x[:, 2] * out) if self.thompson_prior else out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.structure!r}, {self.in_channels}, "
                f"hidden_channels={self.hidden_channels}, num_layers={len(self.layers)}"
                + (", thompson_prior=True)" if self.thompson_prior else ")"))


class LearnedPolicy:
    """A bandit policy from an :class:`ArmScorer`: the arm with the best score
    (``sample=False``, ties at random) or one drawn from the softmax of the scores."""

    def __init__(self, scorer: ArmScorer, sample: bool = False) -> None:
        self.scorer = scorer
        self.sample = sample

    def logits(self, stats: ArmStats, horizon: int, generator: torch.Generator | None = None
               ) -> tuple[Tensor, Tensor]:  # fmt: skip
        """Scores :math:`(B, K)` and the flat ``batch`` vector (``generator``: the
        posterior draws of :func:`arm_features`)."""
        b, k = stats.pulls.shape
        x = arm_features(stats, horizon, generator).reshape(b * k, -1).to(torch.float32)
        batch = torch.arange(b, device=x.device).repeat_interleave(k)
        return self.scorer(x, batch).view(b, k), batch

    def __call__(self, stats: ArmStats, horizon: int, generator: torch.Generator | None = None
                 ) -> Tensor:  # fmt: skip
        scores, _ = self.logits(stats, horizon, generator)
        scores = scores.to(torch.float64)
        if self.sample:
            gumbel = -torch.log(-torch.log(torch.rand(scores.shape, generator=generator,
                                                      dtype=torch.float64).clamp_min(1e-300)))
            return (scores + gumbel.to(scores.device)).argmax(dim=1)
        return argmax_random_ties(scores, generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.scorer!r}, sample={self.sample})"


def train_policy(scorer: ArmScorer, num_arms: int = 10, horizon: int | Sequence[int] = 100,
                 iterations: int = 300, batch_size: int = 256, lr: float = 3e-3,
                 seed: int = 0, progress: bool | None = None,
                 callback: Callable[[int, float], None] | None = None) -> list[float]:  # fmt: skip
    r"""Train ``scorer`` by REINFORCE with a per-step baseline on random Bernoulli bandits.

    Each iteration plays ``batch_size`` fresh instances (means :math:`U[0, 1]`)
    for ``horizon`` pulls, sampling arms from the softmax of the scores, and
    descends :math:`\frac{1}{BT}\sum_{i,t} \log\pi(a_{it}) (G_{it} - \bar G_t)`,
    where :math:`G_{it} = \sum_{s \ge t} (\mu^*_i - \mu_{i a_{is}})` is the
    pseudo-regret still to come (known in simulation, and far less noisy than
    rewards) and :math:`\bar G_t` its batch mean. With several horizons, iteration
    :math:`i` plays the :math:`i`-th of them in turn (cyclically), so that one policy
    learns how to spend a short budget and a long one; the loss of each iteration is
    divided by its horizon's :math:`\sqrt{T}`, so that long games (whose regrets are
    larger) do not drown the short ones.

    Args:
        scorer (ArmScorer): The scorer to train, in place.
        num_arms (int, optional): Arms per instance. (default: ``10``)
        horizon (int or Sequence[int], optional): Pulls per instance, or several
            horizons taken in turn. (default: ``100``)
        iterations (int, optional): Gradient steps. (default: ``300``)
        batch_size (int, optional): Instances per step. (default: ``256``)
        lr (float, optional): Adam's learning rate. (default: ``3e-3``)
        seed (int, optional): Seed of the instances and the sampling.
            (default: ``0``)
        progress (bool, optional): A progress bar on stderr: :obj:`None` where
            stderr is a terminal, ``True`` always, ``False`` never.
            (default: :obj:`None`)
        callback (Callable, optional): ``callback(iteration, regret)`` after
            every step. (default: :obj:`None`)

    Returns:
        list[float]: Mean pseudo-regret of each iteration's rollouts.
    """
    horizons = [horizon] if isinstance(horizon, int) else list(horizon)
    if not horizons:
        raise ValueError("horizon must be a positive int or a non-empty sequence of them")
    for value in horizons:
        check_positive_int(value, "horizon")
    for name, value in (("num_arms", num_arms), ("iterations", iterations),
                        ("batch_size", batch_size)):  # fmt: skip
        check_positive_int(value, name)
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(scorer.parameters(), lr=lr)
    policy = LearnedPolicy(scorer)
    curve: list[float] = []
    bar = tqdm(range(iterations), desc=f"train {scorer.structure}", leave=False,
               disable=tqdm_disable(progress))  # fmt: skip
    for it in bar:
        horizon = horizons[it % len(horizons)]
        bandit = BernoulliBandit(batch_size, num_arms, gen)
        stats = ArmStats(batch_size, num_arms)
        log_probs, regrets = [], []
        for _ in range(horizon):
            scores, _ = policy.logits(stats, horizon, gen)
            logp = torch.log_softmax(scores, dim=1)
            with torch.no_grad():
                u = torch.rand(scores.shape, generator=gen).clamp_min(1e-20)
                arms = (logp - torch.log(-torch.log(u))).argmax(dim=1)
            log_probs.append(logp.gather(1, arms[:, None])[:, 0])
            before = bandit.regret.clone()
            stats.update(arms, bandit.pull(arms))
            regrets.append((bandit.regret - before).to(torch.float32))
        r = torch.stack(regrets, dim=1)  # (B, T)
        to_go = r.flip(1).cumsum(1).flip(1)
        advantage = to_go - to_go.mean(dim=0, keepdim=True)
        loss = (torch.stack(log_probs, dim=1) * advantage).mean() / math.sqrt(horizon)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        curve.append(float(r.sum(1).mean()))
        bar.set_postfix(regret=f"{curve[-1]:.2f}")
        if callback is not None:
            callback(it, curve[-1])
    return curve


def __getattr__(name: str) -> object:
    if name == "STRUCTURES":  # the 0.3 name, until 0.5
        warnings.warn("sgnn.bandits.STRUCTURES is now SCORER_MODELS; STRUCTURES goes in 0.5",
                      DeprecationWarning, stacklevel=2)  # fmt: skip
        return SCORER_MODELS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
