"""Training: a plain loop with early stopping, metrics, checkpoints and data parallelism."""

from .checkpoint import load_checkpoint, save_checkpoint
from .distributed import (
    cleanup_distributed,
    distributed_loader,
    is_main_process,
    setup_distributed,
)
from .loop import History, evaluate, fit
from .metrics import (
    footprint_f1,
    footprint_iou,
    log_count_mae,
    relative_size_error,
    spearman_per_graph,
    top_fraction_recall,
)
from .progressive import progressive_loss
from .sandpile import (
    SANDPILE_MODELS,
    MixedSizeLoader,
    footprint_criterion,
    footprint_exact,
    predicted_avalanche_size,
    sandpile_loss,
    sandpile_metrics,
    sandpile_model,
    sandpile_transform,
)
from .sandpile_recurrent import (
    FootprintAutomaton,
    RGRecurrent,
    ToppleAutomaton,
    lattice_diameter,
)
from .sets import set_argmax, set_cross_entropy

__all__ = [
    "SANDPILE_MODELS",
    "FootprintAutomaton",
    "History",
    "MixedSizeLoader",
    "RGRecurrent",
    "ToppleAutomaton",
    "cleanup_distributed",
    "distributed_loader",
    "evaluate",
    "fit",
    "footprint_criterion",
    "footprint_exact",
    "footprint_f1",
    "footprint_iou",
    "is_main_process",
    "lattice_diameter",
    "load_checkpoint",
    "log_count_mae",
    "predicted_avalanche_size",
    "progressive_loss",
    "relative_size_error",
    "sandpile_loss",
    "sandpile_metrics",
    "sandpile_model",
    "sandpile_transform",
    "save_checkpoint",
    "set_argmax",
    "set_cross_entropy",
    "setup_distributed",
    "spearman_per_graph",
    "top_fraction_recall",
]
