"""The parser of the command line, its argument types, and the checks argparse cannot
make; torch-free, like every module of :mod:`sgnn.cli` at import time."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from .._io import check_writable
from .._names import SAMPLE_TARGETS, SANDPILE_MODELS, SANDPILE_TRAINING
from ._evaluate import run_evaluate
from ._simulate import run_generate, run_simulate
from ._train import run_train


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


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """User errors that argparse cannot see, reported as argparse does (one line, exit 2)."""
    root = getattr(args, "root", None)
    if root is not None and Path(root).exists() and not Path(root).is_dir():
        parser.error(f"argument --root: {root} is a file, not a directory")
    if args.command == "train":
        try:
            check_writable(args.out, "--out")
        except ValueError as err:
            parser.error(f"argument {err}")
    if args.command == "simulate":
        from ..sandpile import SandpileGraph

        try:  # refuses lattices that cannot fit in memory, before any work
            SandpileGraph.square_lattice(
                tuple(args.shape) if args.shape else (args.size, args.size)
            )
        except ValueError as err:
            parser.error(f"argument --size/--shape: {err}")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``sgnn``: one subcommand per command, each with its ``func`` (called
    with the parsed arguments by :func:`~sgnn.cli.main`); imports neither torch nor numba."""
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
    sim.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default: 0)")
    sim.add_argument("--start", choices=("recurrent", "empty"), default="recurrent",
                     help="exact stationary sample (default) or an empty lattice, whose "
                     "first avalanches are transients")  # fmt: skip
    _add_progress_argument(sim)
    sim.set_defaults(func=run_simulate)

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
    _add_progress_argument(gen)
    gen.set_defaults(func=run_generate)

    train = sub.add_parser(
        "train",
        help="train a model on sandpile avalanches of small lattices",
        description="Train one sandpile model on avalanches of the given lattice sizes "
        "(datasets generated into ROOT, seeds DATA_SEED + k for the k-th size and "
        "DATA_SEED + 100 + k for validation) and save the best-validation weights with "
        "their configuration to OUT.",
    )
    _add_data_arguments(train, sizes=[16, 32], samples=None, data_seed=1)
    train.add_argument(
        "--model",
        choices=SANDPILE_MODELS,
        default="rgnet-exact",
        help="the model (default: rgnet-exact)",
    )
    train.add_argument(
        "--hidden", type=_positive_int, default=32, help="hidden channels (default: 32)"
    )
    train.add_argument("--val-samples", type=_positive_int, default=100, metavar="S",
                       help="validation samples per size (default: 100)")  # fmt: skip
    train.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help=f"training epochs (default: per model, {_per_model('epochs')})",
    )
    train.add_argument("--patience", type=_positive_int, default=4,
                       help="stop after this many epochs without a better validation loss "
                       "(default: 4)")  # fmt: skip
    train.add_argument(
        "--batch-size", type=_positive_int, default=16, help="graphs per batch (default: 16)"
    )
    train.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help=f"Adam's learning rate (default: per model, {_per_model('lr')})",
    )
    train.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="seed of the weights and batches (default: 0)",
    )
    train.add_argument("--restarts", type=_non_negative_int, default=2,
                       help="models with a verifiable local rule (hint, count): retrain with the "
                       "next seed, at most this many times, while the snapped rule fails "
                       "its verification (default: 2)")  # fmt: skip
    train.add_argument("--out", required=True, help="checkpoint file to write")
    train.set_defaults(func=run_train)

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
    ev.set_defaults(func=run_evaluate)
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
    _add_progress_argument(parser)


def _add_progress_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", "--quiet", action="store_true",
                        help="hide progress bars (shown only on a terminal anyway)")  # fmt: skip
