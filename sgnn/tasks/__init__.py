"""Learning tasks built on the generic layers and trainer: the sandpile and sign tasks.

* the sandpile model zoo (:func:`sandpile_model`, :data:`SANDPILE_MODELS`), what each
  model reads (:func:`sandpile_transform`), its training (:func:`train_sandpile_model`,
  :class:`MixedSizeLoader`): ``sandpile``;
* the losses and metrics of footprint and hazard prediction (:func:`sandpile_loss`,
  :func:`sandpile_metrics`, the per-graph :func:`footprint_iou` and its kin):
  ``sandpile_losses``;
* the recurrent sandpile models: :class:`ToppleAutomaton` (``topple_automaton``),
  :class:`FootprintAutomaton` and :class:`RGRecurrent` (``sandpile_recurrent``),
  :class:`CountAutomaton` (``count_automaton``) and its training (``count_training``);
* hazard maps from exact first waves: :class:`WaveHazard` (``wave_hazard``), and the
  parameter-free baselines :func:`hazard_baseline` (``hazard_baselines``);
* verified local rules (``local_rules``) and the sandpile's local domains
  (``sandpile_rules``);
* photonic band gaps from unit cells: the invariant multiscale model and its
  comparisons (:func:`bandgap_model`): ``photonic``;
* the sign structure of frustrated magnets (:func:`sign_model`,
  :func:`train_sign_model`): ``magnetic``; restarts selected on held-out orbits
  (:func:`fit_sign_model`): ``sign_protocol``.
"""

from ._recurrence import lattice_diameter
from .count_automaton import CountAutomaton, count_cases
from .count_training import multi_wave, search_gamma, train_count_automaton
from .hazard_baselines import HAZARD_BASELINES, hazard_baseline
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
from .photonic import (
    BANDGAP_MODELS,
    CellMLP,
    GridCNN,
    ScaledPermittivity,
    bandgap_model,
    bandgap_transform,
)
from .sandpile import (
    RECURRENT_MODELS,
    SANDPILE_MODELS,
    SANDPILE_TRAINING,
    MixedSizeLoader,
    sandpile_model,
    sandpile_transform,
    train_sandpile_model,
)
from .sandpile_losses import (
    footprint_criterion,
    footprint_exact,
    footprint_f1,
    footprint_iou,
    hazard_criterion,
    log_count_mae,
    node_outputs,
    predicted_avalanche_size,
    relative_size_error,
    sandpile_loss,
    sandpile_metrics,
)
from .sandpile_recurrent import FootprintAutomaton, RGRecurrent
from .sandpile_rules import topple_cases
from .sign_protocol import SignFit, fit_sign_model, orbit_validation_split
from .topple_automaton import ToppleAutomaton
from .wave_hazard import WaveHazard

__all__ = [
    "BANDGAP_MODELS",
    "HAZARD_BASELINES",
    "RECURRENT_MODELS",
    "SANDPILE_MODELS",
    "SANDPILE_TRAINING",
    "SIGN_MODELS",
    "CellMLP",
    "CountAutomaton",
    "FootprintAutomaton",
    "GridCNN",
    "LocalCases",
    "MixedSizeLoader",
    "RGRecurrent",
    "RuleVerification",
    "ScaledPermittivity",
    "SignFit",
    "SpinMLP",
    "ToppleAutomaton",
    "WaveHazard",
    "bandgap_model",
    "bandgap_transform",
    "count_cases",
    "fit_sign_model",
    "footprint_criterion",
    "footprint_exact",
    "footprint_f1",
    "footprint_iou",
    "hazard_baseline",
    "hazard_criterion",
    "lattice_diameter",
    "log_count_mae",
    "multi_wave",
    "multisets",
    "node_outputs",
    "orbit_validation_split",
    "predicted_avalanche_size",
    "relative_size_error",
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
