"""A plain PyTorch training loop with early stopping, checkpoints and progress bars."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor
from tqdm.auto import tqdm

from .._checks import check_positive_int
from .._progress import tqdm_disable
from .checkpoint import _check_writable, save_checkpoint
from .distributed import is_main_process, unwrap_model

__all__ = ["History", "evaluate", "fit"]

LossFn = Callable[[torch.nn.Module, Any], Tensor]
#: A metric: ``fn(output, batch)``, one value per graph or one for the batch.
MetricFn = Callable[[Any, Any], Tensor]


@dataclass
class History:
    """What :func:`fit` did: training loss per epoch, validation loss at the
    validated epochs (``val_epochs``), the epoch whose weights were kept and the
    wall-clock seconds of each epoch (training and validation)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_epochs: list[int] = field(default_factory=list)
    best_epoch: int = -1
    best_val_loss: float = math.inf
    stopped_early: bool = False
    epoch_seconds: list[float] = field(default_factory=list)


def num_graphs(batch: Any) -> int:
    """Graphs in ``batch``: its ``num_graphs``, or 1 for a single graph."""
    return int(getattr(batch, "num_graphs", 1))


def _bar_off(progress: bool | None) -> bool | None:
    """tqdm's ``disable`` for ``progress`` (:func:`~sgnn._progress.tqdm_disable`), and
    always off on every rank but 0."""
    return tqdm_disable(progress) if is_main_process() else True


def evaluate(
    model: torch.nn.Module | Callable[[Any], Any],
    loader: Iterable[Any],
    metrics: Mapping[str, MetricFn],
    progress: bool | None = False,
    *,
    forward: Callable[[Any, Any], Any] | None = None,
) -> dict[str, float]:
    """Average each metric over every graph of ``loader``, without gradients.

    The model runs once per batch, in eval mode; every metric then reads its output:
    ``fn(output, batch)`` returns one value per graph (shape ``(B,)``) or one value for
    the batch (weighted by its number of graphs). NaN values (e.g. an undefined
    correlation) are left out of the average. Under torch.distributed the sums are
    all-reduced, so every rank returns the same, global, figures.

    Args:
        model (torch.nn.Module or Callable): The model, or any predictor
            ``model(batch)`` (a heuristic).
        loader (Iterable): Batches.
        metrics (Mapping[str, Callable]): ``{name: fn(output, batch)}``.
        progress (bool, optional): A progress bar on stderr (rank 0): :obj:`None`
            where stderr is a terminal, ``True`` always, ``False`` never.
            (default: ``False``)
        forward (Callable, optional): ``forward(model, batch)`` giving the output, for
            models not called as ``model(batch)`` (e.g. ``lambda m, b: m(b.x, b.batch)``).
            (default: :obj:`None`, ``model(batch)``)

    Returns:
        dict: ``{name: mean over graphs}``, NaN where no graph had a value.
    """
    call = forward if forward is not None else (lambda model, batch: model(batch))

    def values(batch: Any) -> dict[str, Tensor]:
        output = call(model, batch)
        return {name: fn(output, batch) for name, fn in metrics.items()}

    return _per_graph_means(model, loader, values, list(metrics), progress)


def _per_graph_means(model: Any, loader: Iterable[Any],
                     values: Callable[[Any], Mapping[str, Tensor]], names: list[str],
                     progress: bool | None) -> dict[str, float]:  # fmt: skip
    """The mean over every graph of ``loader`` of each of ``values(batch)``, in eval mode
    and without gradients, NaNs left out, summed over the ranks."""
    is_module = isinstance(model, torch.nn.Module)
    was_training = is_module and model.training
    if is_module:
        model.eval()
    sums = {name: torch.zeros(2, dtype=torch.float64) for name in names}
    try:
        with torch.no_grad():
            for batch in tqdm(loader, desc="evaluate", leave=False,
                              disable=_bar_off(progress)):  # fmt: skip
                for name, value in values(batch).items():
                    value = torch.as_tensor(value).detach().double().cpu()
                    if value.dim() == 0:
                        value = value.repeat(num_graphs(batch))
                    value = value[~torch.isnan(value)]
                    sums[name] += torch.stack([value.sum(), torch.tensor(float(value.numel()))])
    finally:
        if is_module:
            model.train(was_training)
    if dist.is_initialized():
        for total in sums.values():
            dist.all_reduce(total)
    return {name: float(s[0] / s[1]) if s[1] > 0 else math.nan for name, s in sums.items()}


def fit(
    model: torch.nn.Module,
    loss_fn: LossFn,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None = None,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    patience: int | None = None,
    checkpoint: str | Path | None = None,
    config: dict[str, Any] | None = None,
    grad_clip: float | None = None,
    val_every: int = 1,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    progress: bool | None = None,
    on_epoch_end: Callable[[int, History], None] | None = None,
    desc: str | None = None,
) -> History:
    """Train ``model`` by minimising ``loss_fn(model, batch)``; keep the best validation epoch.

    Each epoch runs over ``train_loader`` (calling ``sampler.set_epoch`` when
    the loader has a distributed sampler), then, with ``val_loader``,
    evaluates the mean loss per graph. The weights of the epoch with the lowest
    validation loss are restored at the end (the last epoch's without
    validation) and written to ``checkpoint`` (state dict + ``config``, rank 0
    only) whenever they improve. Training stops after ``patience`` validations
    without improvement.

    Args:
        model (torch.nn.Module): The model (possibly wrapped in DDP).
        loss_fn (Callable): ``loss_fn(model, batch)`` returning the mean loss
            of the batch; it gets ``model`` as passed (DDP included, so that calling
            it synchronises gradients; :func:`unwrap_model` reaches the model's own
            methods).
        train_loader, val_loader: Iterables of batches.
        epochs (int): Maximum number of epochs.
        optimizer (torch.optim.Optimizer, optional): Default Adam with ``lr``.
        lr (float, optional): Learning rate of the default optimizer.
        patience (int, optional): Early-stopping patience in epochs.
        checkpoint (str or Path, optional): Where to save the best weights.
        config (dict, optional): JSON-like configuration stored with them.
        grad_clip (float, optional): Clip the gradient norm to this value.
        val_every (int, optional): Validate every ``val_every`` epochs and
            after the last one; only validated epochs can be kept.
            (default: ``1``)
        scheduler (LRScheduler, optional): Stepped once after every epoch.
        progress (bool, optional): Progress bars on stderr (rank 0): :obj:`None`
            where stderr is a terminal, ``True`` always, ``False`` never.
            (default: :obj:`None`)
        on_epoch_end (Callable, optional): ``fn(epoch, history)`` after each epoch.
        desc (str, optional): What is trained, named in the progress bars.
            (default: :obj:`None`)

    Returns:
        History: losses per epoch, best epoch, whether it stopped early.
    """
    check_positive_int(epochs, "epochs")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be a positive int, got {patience!r}")
    check_positive_int(val_every, "val_every")
    if optimizer is None and not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if checkpoint is not None and is_main_process():
        _check_writable(checkpoint, "checkpoint")  # before any work, not after training
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    best_state: dict[str, Tensor] | None = None
    stale = 0

    def val_loss(batch: Any) -> dict[str, Tensor]:
        return {"loss": loss_fn(model, batch)}

    for epoch in range(epochs):
        sampler = getattr(train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        model.train()
        total, count = 0.0, 0
        tic = time.perf_counter()
        label = f"{desc} epoch {epoch}" if desc else f"epoch {epoch}"
        # No bar at all when none is wanted (tqdm's disabled bar still costs per epoch).
        bar_off = _bar_off(progress)
        batches = train_loader if bar_off else tqdm(train_loader, desc=label, leave=False,
                                                    disable=bar_off)  # fmt: skip
        for batch in batches:
            optimizer.zero_grad()
            loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss {loss.item()} in epoch {epoch}")
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            total += float(loss.detach()) * num_graphs(batch)
            count += num_graphs(batch)
        if count == 0:
            raise ValueError("train_loader yielded no batches: it must yield at least one")
        history.train_loss.append(total / count)
        if scheduler is not None:
            scheduler.step()
        val: float | None = None  # None: not validated this epoch
        if val_loader is None:
            val = -float(epoch)  # without validation the latest epoch is the best
        elif (epoch + 1) % val_every == 0 or epoch == epochs - 1:
            val = _per_graph_means(model, val_loader, val_loss, ["loss"], False)["loss"]
            if math.isnan(val):
                raise ValueError("the validation loss is NaN: val_loader yielded no batches, "
                                 "or only NaN losses")  # fmt: skip
            history.val_loss.append(val)
            history.val_epochs.append(epoch)
        if val is not None and val < history.best_val_loss:
            history.best_val_loss, history.best_epoch, stale = val, epoch, 0
            if val_loader is not None:  # without validation the last weights are kept
                best_state = copy.deepcopy(unwrap_model(model).state_dict())
            if checkpoint is not None and is_main_process():
                save_checkpoint(checkpoint, model, config, epoch=epoch, val_loss=val)
        elif val is not None:
            stale += 1
        history.epoch_seconds.append(time.perf_counter() - tic)
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
        if patience is not None and stale >= patience:
            history.stopped_early = True
            break
    if best_state is not None:
        unwrap_model(model).load_state_dict(best_state)
    if val_loader is None:
        history.best_val_loss = math.nan
    return history
