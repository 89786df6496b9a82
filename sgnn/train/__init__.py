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
from .sandpile import (
    SANDPILE_MODELS,
    MixedSizeLoader,
    predicted_avalanche_size,
    sandpile_loss,
    sandpile_metrics,
    sandpile_model,
    sandpile_transform,
)
from .sets import set_argmax, set_cross_entropy

__all__ = [
    "SANDPILE_MODELS",
    "History",
    "MixedSizeLoader",
    "cleanup_distributed",
    "distributed_loader",
    "evaluate",
    "fit",
    "footprint_f1",
    "footprint_iou",
    "is_main_process",
    "load_checkpoint",
    "log_count_mae",
    "predicted_avalanche_size",
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
