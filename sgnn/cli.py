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

from sgnn._names import SAMPLE_TARGETS, SANDPILE_MODELS

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
    _add_data_arguments(train, sizes=[16, 32], samples=1000, data_seed=1)
    train.add_argument("--model", choices=SANDPILE_MODELS, default="rgnet-exact")
    train.add_argument("--hidden", type=_positive_int, default=32, help="hidden channels")
    train.add_argument("--val-samples", type=_positive_int, default=100, metavar="S",
                       help="validation samples per size (default: 100)")  # fmt: skip
    train.add_argument("--epochs", type=_positive_int, default=15)
    train.add_argument("--patience", type=_positive_int, default=4)
    train.add_argument("--batch-size", type=_positive_int, default=16)
    train.add_argument("--lr", type=_positive_float, default=3e-3)
    train.add_argument("--seed", type=_non_negative_int, default=0,
                       help="seed of the weights and batches")
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





def _add_data_arguments(parser: argparse.ArgumentParser, sizes: list[int], samples: int,
                        data_seed: int, seed_alias: bool = False) -> None:  # fmt: skip
    parser.add_argument("--root", required=True, help="dataset cache directory")
    parser.add_argument("--target", choices=SAMPLE_TARGETS, default=None,
                        help="footprint or hazard (default: footprint; evaluate: the "
                        "checkpoint's)")  # fmt: skip
    parser.add_argument("--sizes", type=_positive_int, nargs="+", default=sizes, metavar="L",
                        help=f"lattice sides (default: {' '.join(map(str, sizes))})")  # fmt: skip
    parser.add_argument("--num-samples", type=_positive_int, default=samples, metavar="S",
                        help=f"samples per size (default: {samples})")  # fmt: skip
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
    from torch_geometric.loader import DataLoader

    from sgnn.tasks.sandpile import MixedSizeLoader, sandpile_loss, sandpile_model
    from sgnn.train import fit

    args.target = args.target or "footprint"
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
    seed_everything(args.seed)
    model = sandpile_model(args.model, args.target, args.hidden)
    train = MixedSizeLoader([DataLoader(d, args.batch_size, shuffle=True) for d in train_sets],
                            args.seed)  # fmt: skip
    val = MixedSizeLoader([DataLoader(d, args.batch_size) for d in val_sets], args.seed)
    config = {"model": args.model, "target": args.target, "hidden_channels": args.hidden,
              "train_sizes": list(args.sizes), "num_samples": args.num_samples,
              "data_seed": args.data_seed, "seed": args.seed}  # fmt: skip
    history = fit(model, sandpile_loss(args.target), train, val, epochs=args.epochs,
                  lr=args.lr, patience=args.patience, checkpoint=args.out, config=config,
                  progress=not args.no_progress)  # fmt: skip
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.model} ({params} parameters) trained on L = {' '.join(map(str, args.sizes))}: "
          f"best epoch {history.best_epoch} of {len(history.train_loss)}, validation loss "
          f"{history.best_val_loss:.4f}, {time.perf_counter() - tic:.0f} s; saved {args.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from torch_geometric.loader import DataLoader

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
    metrics = sandpile_metrics(args.target)
    _warm_up(args)
    print(f"{config['model']} trained on L = {' '.join(map(str, config['train_sizes']))}, "
          f"{args.num_samples} fresh samples per size")  # fmt: skip
    print(f"{'L':>6}" + "".join(f"{name:>16}" for name in metrics))
    for L in args.sizes:
        try:
            data = _dataset(args, L, args.num_samples, args.data_seed + L, config["model"])
        except (TypeError, ValueError) as err:
            print(f"sgnn evaluate: error: {err}", file=sys.stderr)
            return 2
        row = evaluate(model, DataLoader(data, args.batch_size), metrics)
        # NaN: a metric that does not apply (iterations of a feed-forward model).
        print(f"{L:>6}" + "".join(f"{row[name]:>16.4f}" if row[name] == row[name] else
                                  f"{'-':>16}" for name in metrics), flush=True)  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    return int(args.func(args))
