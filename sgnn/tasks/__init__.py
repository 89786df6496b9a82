"""Learning tasks built on the generic layers and trainer: the sandpile and sign tasks.

Model zoo (:func:`sandpile_model`), the losses and metrics of footprint and
hazard prediction, the on-access transforms, the mixed-size loader, and the
recurrent sandpile models (moved here from :mod:`sgnn.train` in sgnn 0.2); the
sign structure of frustrated magnets (:func:`sign_model`, :func:`train_sign_model`).
"""

from .count_automaton import (
    CountAutomaton,
    count_cases,
    multi_wave,
    search_gamma,
    train_count_automaton,
)
from .local_rules import (
    LocalCases,
    RuleVerification,
    multisets,
    snap_rule,
    star_graphs,
    train_until_verified,
    verify_rule,
)
from .magnetic import (
    SIGN_MODELS,
    SpinMLP,
    sign_accuracy,
    sign_logits,
    sign_model,
    train_sign_model,
)
from .sandpile import (
    SANDPILE_MODELS,
    SANDPILE_TRAINING,
    MixedSizeLoader,
    footprint_criterion,
    footprint_exact,
    node_outputs,
    predicted_avalanche_size,
    sandpile_loss,
    sandpile_metrics,
    sandpile_model,
    sandpile_transform,
    train_sandpile_model,
)
from .sandpile_recurrent import (
    FootprintAutomaton,
    RGRecurrent,
    ToppleAutomaton,
    lattice_diameter,
)
from .sandpile_rules import topple_cases

__all__ = [
    "SANDPILE_MODELS",
    "SANDPILE_TRAINING",
    "SIGN_MODELS",
    "CountAutomaton",
    "FootprintAutomaton",
    "LocalCases",
    "MixedSizeLoader",
    "RGRecurrent",
    "RuleVerification",
    "SpinMLP",
    "ToppleAutomaton",
    "count_cases",
    "footprint_criterion",
    "footprint_exact",
    "lattice_diameter",
    "multi_wave",
    "multisets",
    "node_outputs",
    "predicted_avalanche_size",
    "sandpile_loss",
    "sandpile_metrics",
    "sandpile_model",
    "sandpile_transform",
    "search_gamma",
    "sign_accuracy",
    "sign_logits",
    "sign_model",
    "snap_rule",
    "star_graphs",
    "topple_cases",
    "train_count_automaton",
    "train_sandpile_model",
    "train_sign_model",
    "train_until_verified",
    "verify_rule",
]
