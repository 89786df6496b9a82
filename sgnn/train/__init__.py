"""Training: a plain loop with early stopping, metrics, checkpoints and data parallelism.

Generic: nothing here knows about sandpiles. The sandpile task (models, losses,
metrics such as :func:`~sgnn.tasks.footprint_iou`, the mixed-size loader) lives in
:mod:`sgnn.tasks` (its names, importable from here with a :class:`DeprecationWarning`
since sgnn 0.2, were removed in 0.4).

:func:`fit` minimises ``loss_fn(model, batch)``; :func:`evaluate` runs the model once
per batch and averages each metric ``fn(output, batch)`` over the graphs.
"""

from .checkpoint import load_checkpoint, save_checkpoint
from .distributed import (
    cleanup_distributed,
    distributed_loader,
    is_main_process,
    setup_distributed,
    unwrap_model,
)
from .loop import History, evaluate, fit, num_graphs
from .metrics import (
    alarm_precision_recall,
    batch_vector,
    captured_fraction,
    spearman_per_graph,
    top_fraction_recall,
)
from .progressive import progressive_loss
from .sets import set_argmax, set_cross_entropy

__all__ = [
    "History",
    "alarm_precision_recall",
    "batch_vector",
    "captured_fraction",
    "cleanup_distributed",
    "distributed_loader",
    "evaluate",
    "fit",
    "is_main_process",
    "load_checkpoint",
    "num_graphs",
    "progressive_loss",
    "save_checkpoint",
    "set_argmax",
    "set_cross_entropy",
    "setup_distributed",
    "spearman_per_graph",
    "top_fraction_recall",
    "unwrap_model",
]
