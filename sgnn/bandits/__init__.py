r"""Multi-armed bandits: batched environments, reference policies, and permutation-
equivariant learned policies that run on any number of arms.

Arms have no order, so a policy should be equivariant under permuting them: the
learned policies score every arm from its own statistics (and, in the set
policies, from the other arms'), with weights that do not depend on :math:`K`.
"""

from .env import ArmStats, BernoulliBandit, GaussianBandit
from .learned import (
    SCORER_MODELS,
    THOMPSON_SCALE,
    ArmScorer,
    LearnedPolicy,
    arm_features,
    train_policy,
)
from .policies import (
    KLUCB,
    UCB1,
    EpsilonGreedy,
    Greedy,
    ThompsonSampling,
    argmax_random_ties,
    bernoulli_kl,
    beta_draw,
    play,
)

__all__ = [
    "KLUCB",
    "SCORER_MODELS",
    "THOMPSON_SCALE",
    "UCB1",
    "ArmScorer",
    "ArmStats",
    "BernoulliBandit",
    "EpsilonGreedy",
    "GaussianBandit",
    "Greedy",
    "LearnedPolicy",
    "ThompsonSampling",
    "argmax_random_ties",
    "arm_features",
    "bernoulli_kl",
    "beta_draw",
    "play",
    "train_policy",
]


def __getattr__(name: str) -> object:
    from . import learned  # the deprecated STRUCTURES, with its warning

    return getattr(learned, name)
