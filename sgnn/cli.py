"""Command-line interface: ``python -m sgnn <command>`` or the ``sgnn`` script.

Commands:

* ``simulate`` -- drive a sandpile from an exact stationary sample (or from an
  empty lattice) and print statistics of heights and avalanches next to the
  exact values.
* ``generate`` -- build a :class:`~sgnn.data.SandpileAvalanches` dataset (or
  one shard of it) in a cache directory.
* ``train`` -- train one of :data:`~sgnn.tasks.SANDPILE_MODELS` on avalanches
  of small lattices and save a checkpoint.
* ``evaluate`` -- print a checkpoint's metrics on fresh configurations of
  several lattice sizes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sgnn._names import SAMPLE_TARGETS, SANDPILE_MODELS, SANDPILE_TRAINING

__all__ = ["main"]


def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse ``type``: an int >= ``minimum``, or a message saying so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "a non-negative integer")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """User errors that argparse cannot see, reported as argparse does (one line, exit 2)."""
    root = getattr(args, "root", None)
    if root is not None and Path(root).exists() and not Path(root).is_dir():
        parser.error(f"argument --root: {root} is a file, not a directory")
    if args.command == "train":
        from sgnn.train.checkpoint import _check_writable

        try:
            _check_writable(args.out, "--out")
        except ValueError as err:
            parser.error(f"argument {err}")
    if args.command == "simulate":
        from sgnn.sandpile.graph import _check_shape

        try:
            _check_shape(tuple(args.shape) if args.shape else (args.size, args.size))
        except ValueError as err:
            parser.error(f"argument --size/--shape: {err}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgnn", description="Symmetry-aware graph neural networks: command-line tools."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    sim = sub.add_parser(
        "simulate",
        help="drive a BTW sandpile and print its statistics",
        description="Drive a Bak–Tang–Wiesenfeld sandpile on an open square lattice with "
        "grains dropped at random sites, and print height and avalanche statistics next "
        "to the exact values (infinite-lattice heights, Dhar's mean avalanche size).",
    )
    size = sim.add_mutually_exclusive_group()
    size.add_argument("--size", type=_positive_int, default=64, metavar="L",
                      help="an L x L lattice (default: 64)")  # fmt: skip
    size.add_argument("--shape", type=_positive_int, nargs=2, metavar=("H", "W"),
                      help="an H x W lattice")  # fmt: skip
    sim.add_argument("--grains", type=_non_negative_int, default=100_000, metavar="N",
                     help="grains to drop (default: 100000)")  # fmt: skip
    sim.add_argument("--seed", type=_non_negative_int, default=0,
                     help="random seed (default: 0)")
    sim.add_argument("--start", choices=("recurrent", "empty"), default="recurrent",
                     help="exact stationary sample (default) or an empty lattice, whose "
                     "first avalanches are transients")  # fmt: skip
    sim.add_argument("--no-progress", "--quiet", action="store_true",
                     help="hide the progress bar (shown only on a terminal anyway)")
    sim.set_defaults(func=_simulate)

    gen = sub.add_parser(
        "generate",
        help="generate a sandpile avalanche dataset (or one shard of it)",
        description="Generate a SandpileAvalanches dataset into ROOT. The same arguments always "
        "give the same data; --shard I --num-shards N generates one part, and running again "
        "without --shard (same --num-shards) merges the parts.",
    )
    gen.add_argument("--root", required=True, help="cache directory")
    gen.add_argument("--size", type=_positive_int, required=True, metavar="L", help="lattice side")
    gen.add_argument("--num-samples", type=_positive_int, required=True, metavar="S")
    gen.add_argument("--target", choices=SAMPLE_TARGETS, default="footprint")
    gen.add_argument("--seed", type=_non_negative_int, default=0)
    gen.add_argument("--shard", type=_non_negative_int, default=None, metavar="I")
    gen.add_argument("--num-shards", type=_positive_int, default=1, metavar="N")
    gen.add_argument("--workers", type=_non_negative_int, default=None,
                     help="generating processes (default: up to 4)")  # fmt: skip
    gen.add_argument("--no-progress", "--quiet", action="store_true",
                     help="hide the progress bar (shown only on a terminal anyway)")
    gen.set_defaults(func=_generate)

    train = sub.add_parser(
        "train",
        help="train a model on sandpile avalanches of small lattices",
        description="Train one sandpile model on avalanches of the given lattice sizes "
        "(datasets generated into ROOT, seeds DATA_SEED + k for the k-th size and "
        "DATA_SEED + 100 + k for validation) and save the best-validation weights with "
        "their configuration to OUT.",
    )
    _add_data_arguments(train, sizes=[16, 32], samples=None, data_seed=1)
    train.add_argument("--model", choices=SANDPILE_MODELS, default="rgnet-exact",
                       help="the model (default: rgnet-exact)")
    train.add_argument("--hidden", type=_positive_int, default=32,
                       help="hidden channels (default: 32)")
    train.add_argument("--val-samples", type=_positive_int, default=100, metavar="S",
                       help="validation samples per size (default: 100)")  # fmt: skip
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help=f"training epochs (default: per model, {_per_model('epochs')})")
    train.add_argument("--patience", type=_positive_int, default=4,
                       help="stop after this many epochs without a better validation loss "
                       "(default: 4)")  # fmt: skip
    train.add_argument("--batch-size", type=_positive_int, default=16,
                       help="graphs per batch (default: 16)")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help=f"Adam's learning rate (default: per model, {_per_model('lr')})")
    train.add_argument("--seed", type=_non_negative_int, default=0,
                       help="seed of the weights and batches (default: 0)")
    train.add_argument("--restarts", type=_non_negative_int, default=2,
                       help="models with a verifiable local rule (hint, count): retrain with the "
                       "next seed, at most this many times, while the snapped rule fails "
                       "its verification (default: 2)")  # fmt: skip
    train.add_argument("--out", required=True, help="checkpoint file to write")
    train.set_defaults(func=_train)

    ev = sub.add_parser(
        "evaluate",
        help="print a trained model's metrics over lattice sizes",
        description="Evaluate a checkpoint written by 'sgnn train' on fresh datasets "
        "(seed DATA_SEED + L for side L) and print one row per lattice size.",
    )
    ev.add_argument("checkpoint", help="a checkpoint written by 'sgnn train'")
    _add_data_arguments(ev, sizes=[16, 32, 64, 128], samples=50, data_seed=10_000,
                        seed_alias=True)  # fmt: skip
    ev.add_argument("--batch-size", type=_positive_int, default=4)
    ev.set_defaults(func=_evaluate)
    return parser





def _per_model(key: str) -> str:
    """``name value, ...`` of one training default, for --help."""
    return ", ".join(f"{name} {values[key]:g}" for name, values in SANDPILE_TRAINING.items())


def _add_data_arguments(parser: argparse.ArgumentParser, sizes: list[int], samples: int | None,
                        data_seed: int, seed_alias: bool = False) -> None:  # fmt: skip
    parser.add_argument("--root", required=True, help="dataset cache directory")
    parser.add_argument("--target", choices=SAMPLE_TARGETS, default=None,
                        help="footprint or hazard (default: footprint; evaluate: the "
                        "checkpoint's)")  # fmt: skip
    parser.add_argument("--sizes", type=_positive_int, nargs="+", default=sizes, metavar="L",
                        help=f"lattice sides (default: {' '.join(map(str, sizes))})")  # fmt: skip
    what = f"{samples}" if samples is not None else f"per model, {_per_model('num_samples')}"
    parser.add_argument("--num-samples", type=_positive_int, default=samples, metavar="S",
                        help=f"samples per size (default: {what})")  # fmt: skip
    names = ("--data-seed", "--seed") if seed_alias else ("--data-seed",)
    parser.add_argument(*names, dest="data_seed", type=_non_negative_int, default=data_seed,
                        help=f"base seed of the datasets (default: {data_seed})")  # fmt: skip
    parser.add_argument("--workers", type=_non_negative_int, default=None,
                        help="generating processes (default: up to 4)")  # fmt: skip
    parser.add_argument("--no-progress", "--quiet", action="store_true",
                        help="hide progress bars (shown only on a terminal anyway)")


def _dataset(args: argparse.Namespace, size: int, samples: int, seed: int,
             model: str) -> Any:  # fmt: skip
    """The plain graphs that ``sgnn generate`` caches, with what ``model`` reads (a
    hierarchy, dilated edges) added on access: one cache serves every model, and large
    lattices stay small on disk."""
    from sgnn.data import SandpileAvalanches
    from sgnn.tasks.sandpile import sandpile_transform

    return SandpileAvalanches(args.root, size, samples, args.target, seed,
                              transform=sandpile_transform(model), num_workers=args.workers,
                              log=not args.no_progress)  # fmt: skip


def _warm_up(args: argparse.Namespace) -> None:
    """Compile the sandpile kernels the transforms use before the first timed epoch
    (tens of seconds on the first run after an install, then cached)."""
    from sgnn.sandpile import compile_kernels

    seconds = compile_kernels()
    if not args.no_progress and seconds > 1:
        print(f"compiled the sandpile kernels in {seconds:.0f} s (first use after an install; "
              "cached for later runs)", file=sys.stderr)  # fmt: skip


def _simulate(args: argparse.Namespace) -> int:
    from sgnn.sandpile import (
        drive,
        expected_avalanche_size,
        height_probabilities,
        sample_recurrent,
        square_lattice_height_probabilities,
    )

    shape = tuple(args.shape) if args.shape else (args.size, args.size)
    rng = np.random.default_rng(args.seed)
    tic = time.perf_counter()
    if args.start == "recurrent":
        z = sample_recurrent(shape, rng)
    else:
        z = np.zeros(shape, dtype=np.int64)
    stats = drive(z, args.grains, rng, progress=False if args.no_progress else None)
    elapsed = time.perf_counter() - tic

    print(f"BTW sandpile on a {shape[0]}x{shape[1]} lattice, open boundaries")
    print(f"start: {args.start}, grains dropped: {len(stats)}, seed: {args.seed}, "
          f"topplings: {int(stats.size.sum())}, time: {elapsed:.2f} s")  # fmt: skip
    print()
    probs = height_probabilities(z)
    exact = square_lattice_height_probabilities()
    print(f"{'final configuration':<20}{'measured':>12}{'infinite lattice':>20}")
    for h in range(4):
        print(f"{f'  P(height = {h})':<20}{probs[h]:>12.4f}{exact[h]:>20.4f}")
    print(f"{'  mean height':<20}{z.mean():>12.4f}{17 / 8:>20.4f}")
    print()
    if len(stats) == 0:
        print("no grains dropped: no avalanche statistics")
        return 0
    print(f"{'avalanches':<12}" + "".join(f"{c:>12}" for c in ("mean", "median", "p99", "max")))
    for name in ("size", "area", "duration", "radius", "lost"):
        v = getattr(stats, name)
        row = (v.mean(), np.median(v), np.percentile(v, 99), v.max())
        print(f"  {name:<10}" + "".join(f"{x:>12.3f}" for x in row))
    print(f"  grains causing an avalanche: {np.mean(stats.size > 0):.4f}")
    print()
    exact_s = expected_avalanche_size(shape)
    mean_s = float(stats.size.mean())
    note = "" if args.start == "recurrent" else " (an empty start includes transients)"
    print(f"mean avalanche size {mean_s:.3f}, Dhar's exact <s> = {exact_s:.3f}, "
          f"relative error {(mean_s - exact_s) / exact_s:+.2%}{note}")  # fmt: skip
    return 0


def _generate(args: argparse.Namespace) -> int:
    from sgnn.data import SandpileAvalanches

    tic = time.perf_counter()
    try:
        dataset = SandpileAvalanches(
            args.root, args.size, args.num_samples, args.target, args.seed,
            num_workers=args.workers, shard=args.shard, num_shards=args.num_shards,
            log=not args.no_progress,
        )  # fmt: skip
    except (TypeError, ValueError) as err:
        print(f"sgnn generate: error: {err}", file=sys.stderr)
        return 2
    print(f"{dataset!r}: {len(dataset)} samples in {dataset.processed_paths[0]} "
          f"({time.perf_counter() - tic:.1f} s)")  # fmt: skip
    return 0


def _train(args: argparse.Namespace) -> int:
    from torch_geometric import seed_everything

    from sgnn.tasks.local_rules import RuleVerification, train_until_verified
    from sgnn.tasks.sandpile import sandpile_model, train_sandpile_model
    from sgnn.train import History, save_checkpoint

    args.target = args.target or "footprint"
    for key, value in SANDPILE_TRAINING[args.model].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    tic = time.perf_counter()
    try:
        train_sets = [_dataset(args, L, args.num_samples, args.data_seed + k, args.model)
                      for k, L in enumerate(args.sizes)]  # fmt: skip
        val_sets = [_dataset(args, L, args.val_samples, args.data_seed + 100 + k, args.model)
                    for k, L in enumerate(args.sizes)]  # fmt: skip
    except (TypeError, ValueError) as err:
        print(f"sgnn train: error: {err}", file=sys.stderr)
        return 2
    _warm_up(args)

    def build(seed: int) -> Any:
        seed_everything(seed)
        return sandpile_model(args.model, args.target, args.hidden)

    def train(model: Any, seed: int) -> Any:
        return train_sandpile_model(model, train_sets, val_sets, epochs=args.epochs,
                                    lr=args.lr, target=args.target, batch_size=args.batch_size,
                                    seed=seed, patience=args.patience,
                                    progress=not args.no_progress)  # fmt: skip

    config = {"model": args.model, "target": args.target, "hidden_channels": args.hidden,
              "train_sizes": list(args.sizes), "num_samples": args.num_samples,
              "epochs": args.epochs, "lr": args.lr, "data_seed": args.data_seed,
              "seed": args.seed}  # fmt: skip
    model = build(args.seed)
    verification: RuleVerification | None = None
    if hasattr(model, "local_cases"):
        model, history, verification, attempts = train_until_verified(
            build, train, args.seed, args.restarts,
            log=None if args.no_progress else lambda line: print(line, file=sys.stderr))
        config.update(seed=args.seed + attempts - 1, verified=verification.passed,
                      wrong_local_cases=verification.num_wrong)  # fmt: skip
    else:
        history = train(model, args.seed)
    settled = _settled(model, val_sets, args)
    save_checkpoint(args.out, model, config)
    params = sum(p.numel() for p in model.parameters())
    how = (f"best epoch {history.best_epoch} of {len(history.train_loss)}, validation loss "
           f"{history.best_val_loss:.4f}" if isinstance(history, History) else
           f"{args.epochs} first-wave epochs and a search over the threshold step")  # fmt: skip
    print(f"{args.model} ({params} parameters) trained on L = {' '.join(map(str, args.sizes))}: "
          f"{how}, {time.perf_counter() - tic:.0f} s; saved {args.out}")
    problems = []
    if verification is not None:
        scope = "; exact on every lattice size and avalanche that its iteration budget covers"
        if hasattr(model, "case_count"):  # a domain bounded in the toppling count
            scope += f" and in which no site topples more than {model.case_count} times"
        print(f"{verification}" + (scope if verification.passed else ""))
        if not verification.passed:
            problems.append(f"the snapped rule failed its verification in all {attempts} "
                            "attempts (try more --epochs, another --lr or more --restarts)")
    if settled is not None:
        done, total = settled
        print(f"settled within the iteration budget on {done} of {total} validation avalanches")
        if done < total / 2:
            problems.append(f"the iteration budget ran out on {total - done} of {total} "
                            "validation avalanches")  # fmt: skip
    if problems:
        print(f"sgnn train: not converged: {'; '.join(problems)}. {args.out} was written for "
              "inspection; do not rely on it.", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _settled(model: Any, datasets: list[Any], args: argparse.Namespace) -> tuple[int, int] | None:
    """``(settled, total)`` over ``datasets`` for a recurrent model, :obj:`None` for others."""
    import torch
    from torch_geometric.loader import DataLoader

    from sgnn.nn import RecurrentOutput

    if not hasattr(model, "recurrent"):
        return None
    model.eval()
    done = total = 0
    with torch.no_grad():
        for data in datasets:
            for batch in DataLoader(data, args.batch_size):
                result = model(batch)
                if isinstance(result, RecurrentOutput):
                    done += int(result.converged.sum())
                    total += int(result.converged.numel())
    return done, total


class _NotSettling(Exception):
    """A recurrent model exhausts its iteration budget on most avalanches."""


def _guard_settling(metric: Callable[[Any, Any], Any], size: int) -> Callable[[Any, Any], Any]:
    """``metric`` (the ``settled`` metric), raising :class:`_NotSettling` once at least 8
    avalanches have been seen and most of them ran out of iterations: a model that does
    not settle would otherwise spend its whole budget on every avalanche."""
    seen = [0, 0]

    def guarded(model: Any, batch: Any) -> Any:
        value = metric(model, batch)
        finite = value[value == value]
        seen[0] += int((finite == 0).sum())
        seen[1] += int(finite.numel())
        if seen[1] >= 8 and seen[0] > seen[1] / 2:
            raise _NotSettling(f"the model ran out of its iteration budget on {seen[0]} of the "
                               f"first {seen[1]} avalanches at L = {size}: it has not learned a "
                               "rule that settles; retrain it (sgnn train)")  # fmt: skip
        return value

    return guarded


def _evaluate(args: argparse.Namespace) -> int:
    from torch_geometric.loader import DataLoader

    from sgnn.tasks.local_rules import verify_rule
    from sgnn.tasks.sandpile import sandpile_metrics, sandpile_model
    from sgnn.train import evaluate, load_checkpoint

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
    _warm_up(args)
    print(f"{config['model']} trained on L = {' '.join(map(str, config['train_sizes']))}, "
          f"{args.num_samples} fresh samples per size (seed {args.data_seed} + L)")  # fmt: skip
    if hasattr(model, "local_cases"):
        print(verify_rule(model))
    names = list(sandpile_metrics(args.target))
    print("mean +- standard error over avalanches ('-': does not apply to this model)")
    print(f"{'L':>6}{'n':>6}" + "".join(f"{name:>20}" for name in names))
    for L in args.sizes:
        try:
            data = _dataset(args, L, args.num_samples, args.data_seed + L, config["model"])
        except (TypeError, ValueError) as err:
            print(f"sgnn evaluate: error: {err}", file=sys.stderr)
            return 2
        metrics = sandpile_metrics(args.target)
        if "settled" in metrics:
            metrics["settled"] = _guard_settling(metrics["settled"], L)
        values: dict[str, list[Any]] = {name: [] for name in names}
        try:
            evaluate(model, DataLoader(data, args.batch_size),
                     {name: _recorded(fn, values[name]) for name, fn in metrics.items()},
                     progress=not args.no_progress)  # fmt: skip
        except _NotSettling as err:
            print(f"sgnn evaluate: stopped: {err}", file=sys.stderr)
            return 1
        cells = [_mean_and_error(values[name]) for name in names]
        print(f"{L:>6}{len(data):>6}" + "".join(f"{cell:>20}" for cell in cells), flush=True)
    return 0


def _recorded(metric: Callable[[Any, Any], Any], into: list[Any]) -> Callable[[Any, Any], Any]:
    """``metric``, keeping a copy of every value it returns in ``into``."""

    def recorded(model: Any, batch: Any) -> Any:
        value = metric(model, batch)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    return int(args.func(args))
