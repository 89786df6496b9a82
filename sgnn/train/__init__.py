"""Training: a plain loop with early stopping, metrics, checkpoints and data parallelism.

Generic: nothing here knows about sandpiles. The sandpile task (models, losses,
metrics, the mixed-size loader) lives in :mod:`sgnn.tasks` (its names, importable from
here with a :class:`DeprecationWarning` since sgnn 0.2, were removed in 0.4).
"""

from .checkpoint import load_checkpoint, save_checkpoint
from .distributed import (
    cleanup_distributed,
    distributed_loader,
    is_main_process,
    setup_distributed,
)
from .loop import History, evaluate, fit, num_graphs
from .metrics import (
    batch_vector,
    footprint_f1,
    footprint_iou,
    log_count_mae,
    relative_size_error,
    spearman_per_graph,
    top_fraction_recall,
)
from .progressive import progressive_loss
from .sets import set_argmax, set_cross_entropy

__all__ = [
    "History",
    "batch_vector",
    "cleanup_distributed",
    "distributed_loader",
    "evaluate",
    "fit",
    "footprint_f1",
    "footprint_iou",
    "is_main_process",
    "load_checkpoint",
    "log_count_mae",
    "num_graphs",
    "progressive_loss",
    "relative_size_error",
    "save_checkpoint",
    "set_argmax",
    "set_cross_entropy",
    "setup_distributed",
    "spearman_per_graph",
    "top_fraction_recall",
]
