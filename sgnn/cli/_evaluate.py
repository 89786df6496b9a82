"""``sgnn evaluate``: a checkpoint's metrics on fresh avalanches of several lattice sizes,
as mean +- standard error, stopping a model that does not settle."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ._train import dataset, set_threads, warm_up


class _NotSettling(Exception):
    """A recurrent model exhausts its iteration budget on most avalanches."""


def _guard_settling(metric: Callable[[Any, Any], Any], size: int) -> Callable[[Any, Any], Any]:
    """``metric`` (the ``settled`` metric), raising :class:`_NotSettling` once at least 8
    avalanches have been seen and most of them ran out of iterations: a model that does
    not settle would otherwise spend its whole budget on every avalanche."""
    seen = [0, 0]

    def guarded(output: Any, batch: Any) -> Any:
        value = metric(output, batch)
        finite = value[value == value]
        seen[0] += int((finite == 0).sum())
        seen[1] += int(finite.numel())
        if seen[1] >= 8 and seen[0] > seen[1] / 2:
            raise _NotSettling(f"the model ran out of its iteration budget on {seen[0]} of the "
                               f"first {seen[1]} avalanches at L = {size}: it has not learned a "
                               "rule that settles; retrain it (sgnn train)")  # fmt: skip
        return value

    return guarded


def run_evaluate(args: argparse.Namespace) -> int:
    from torch_geometric.loader import DataLoader
    from tqdm import tqdm

    from .._progress import tqdm_disable, tqdm_screen
    from ..tasks import sandpile_metrics, sandpile_model, verify_rule
    from ..train import evaluate, load_checkpoint

    set_threads(args)
    try:
        payload = load_checkpoint(args.checkpoint)
        config = payload["config"]
        model = sandpile_model(config["model"], config["target"], config["hidden_channels"])
        model.load_state_dict(payload["state_dict"])
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        print(f"sgnn evaluate: error: {args.checkpoint} is not a checkpoint of 'sgnn train' "
              f"({err})", file=sys.stderr)  # fmt: skip
        return 2
    if args.target not in (None, config["target"]):
        print(f"sgnn evaluate: error: the checkpoint predicts {config['target']!r}, not "
              f"{args.target!r}", file=sys.stderr)  # fmt: skip
        return 2
    args.target = config["target"]
    warm_up(args)
    print(f"{config['model']} trained on L = {' '.join(map(str, config['train_sizes']))}, "
          f"{args.num_samples} fresh samples per size (seed {args.data_seed} + L)")  # fmt: skip
    if hasattr(model, "local_cases"):
        print(verify_rule(model))
    names = list(sandpile_metrics(args.target))
    unit = "configurations" if args.target == "hazard" else "avalanches"
    print(f"mean +- standard error over {unit} ('-': does not apply to this model or "
          "undefined on every sample)")  # fmt: skip
    print(f"{'L':>6}{'n':>6}" + "".join(f"{name:>20}" for name in names))
    for L in args.sizes:
        try:
            data = dataset(args, L, args.num_samples, args.data_seed + L, config["model"])
        except (TypeError, ValueError) as err:
            print(f"sgnn evaluate: error: {err}", file=sys.stderr)
            return 2
        metrics = sandpile_metrics(args.target)
        if "settled" in metrics:
            metrics["settled"] = _guard_settling(metrics["settled"], L)
        values: dict[str, list[Any]] = {name: [] for name in names}
        # A bar per size on stderr, only on a terminal (and none with --no-progress).
        batches = tqdm(DataLoader(data, args.batch_size), desc=f"evaluate L={L}",
                       unit="batch", leave=False,
                       disable=tqdm_disable(False if args.no_progress else None),
                       **tqdm_screen())  # fmt: skip
        try:
            with batches:
                evaluate(model, batches,
                         {name: _recorded(fn, values[name]) for name, fn in metrics.items()},
                         progress=False)  # fmt: skip
        except _NotSettling as err:
            print(f"sgnn evaluate: stopped: {err}", file=sys.stderr)
            return 1
        cells = [_mean_and_error(values[name]) for name in names]
        print(f"{L:>6}{len(data):>6}" + "".join(f"{cell:>20}" for cell in cells), flush=True)
    return 0


def _recorded(metric: Callable[[Any, Any], Any], into: list[Any]) -> Callable[[Any, Any], Any]:
    """``metric``, keeping a copy of every value it returns in ``into``."""

    def recorded(output: Any, batch: Any) -> Any:
        value = metric(output, batch)
        into.append(value.detach().double().cpu().reshape(-1))
        return value

    return recorded


def _mean_and_error(parts: list[Any]) -> str:
    """``mean +- standard error`` of the finite values of ``parts``, or ``-``."""
    values = np.concatenate([p.numpy() for p in parts]) if parts else np.zeros(0)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "-"
    error = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else math.nan
    return f"{values.mean():.4f} +- {error:.4f}"
