"""The parser of the command line, its argument types, and the checks argparse cannot
make; torch-free, like every module of :mod:`sgnn.cli` at import time."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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
#: A side of the lattices that train and evaluate read: on a 1 x 1 lattice every avalanche is
#: the one site toppling once, which any model predicts exactly.
_lattice_side = _int_at_least(2, "a lattice side L >= 2 (an integer)")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in ``--help``: appended as ``(default: ...)`` unless the
    help text states it itself, or there is none to state (a required option, a flag, a
    default of :obj:`None` whose meaning the help text gives)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default" in text or action.required or action.default is None or (
            action.default is False
        ):
            return text
        return super()._get_help_string(action)


class _DeprecatedAlias(argparse.Action):
    """An old spelling of another option: stores into its ``dest`` and says, on stderr, which
    spelling to use instead."""

    def __init__(self, option_strings: Sequence[str], dest: str, instead: str = "",
                 **kwargs: Any) -> None:  # fmt: skip
        self.instead = instead
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:  # fmt: skip
        print(f"{parser.prog}: warning: {option_string} is a deprecated spelling; use "
              f"{self.instead}", file=sys.stderr)  # fmt: skip
        setattr(namespace, self.dest, values)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """User errors that argparse cannot see, reported as argparse does (one line, exit 2),
    by the subcommand's parser (``sgnn train: error: ...``) where ``args`` names it."""
    parser = getattr(args, "command_parser", parser)
    root = getattr(args, "root", None)
    problem = None if root is None else _root_problem(root)
    if problem is not None:
        parser.error(f"argument --root: {problem}")
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


def _root_problem(root: str) -> str | None:
    """Why ``root`` cannot hold a dataset cache, or :obj:`None`: it is a file, or it does not
    exist and cannot be created (its nearest existing ancestor is a file, or a directory
    this process may not write to). An existing directory is accepted as it is: a cache
    already generated there can be read without writing."""
    path = Path(root)
    if path.is_dir():
        return None
    if path.exists():
        return f"{root} is a file, not a directory"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # the directories below it will be created
    if not parent.is_dir():
        return f"{root} cannot be created: {parent} is a file, not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{root} cannot be created: {parent} is not a writable directory"
    return None


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``sgnn``: one subcommand per command, each with its ``func`` (called
    with the parsed arguments by :func:`~sgnn.cli.main`); imports neither torch nor numba.
    Every option has a help text, and ``--help`` shows every default."""
    parser = argparse.ArgumentParser(
        prog="sgnn",
        description="Symmetry-aware graph neural networks: command-line tools.",
        formatter_class=_HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    sim = sub.add_parser(
        "simulate",
        help="drive a BTW sandpile and print its statistics",
        description="Drive a Bak–Tang–Wiesenfeld sandpile on an open square lattice with "
        "grains dropped at random sites, and print height and avalanche statistics next "
        "to the exact values (infinite-lattice heights, Dhar's mean avalanche size).",
        formatter_class=_HelpFormatter,
    )
    size = sim.add_mutually_exclusive_group()
    size.add_argument("--size", type=_positive_int, default=64, metavar="L",
                      help="an L x L lattice")  # fmt: skip
    size.add_argument("--shape", type=_positive_int, nargs=2, metavar=("H", "W"),
                      help="an H x W lattice (default: --size)")  # fmt: skip
    sim.add_argument("--grains", type=_non_negative_int, default=100_000, metavar="N",
                     help="grains to drop")  # fmt: skip
    sim.add_argument("--seed", type=_non_negative_int, default=0,
                     help="seed of the initial configuration and of the drop sites")  # fmt: skip
    sim.add_argument("--start", choices=("recurrent", "empty"), default="recurrent",
                     help="an exact stationary sample, or an empty lattice, whose first "
                     "avalanches are transients")  # fmt: skip
    _add_progress_argument(sim)
    sim.set_defaults(func=run_simulate, command_parser=sim)

    gen = sub.add_parser(
        "generate",
        help="generate a sandpile avalanche dataset (or one shard of it)",
        description="Generate a SandpileAvalanches dataset into ROOT. The same arguments always "
        "give the same data; --shard I --num-shards N generates one part, and running again "
        "without --shard (same --num-shards) merges the parts. 'sgnn train' reads the "
        "datasets of seeds DATA_SEED + k (k-th size) and DATA_SEED + 100 + k (validation), "
        "'sgnn evaluate' those of seeds DATA_SEED + L.",
        formatter_class=_HelpFormatter,
    )
    gen.add_argument("--root", required=True,
                     help="dataset cache directory (created if missing)")  # fmt: skip
    gen.add_argument("--size", type=_positive_int, required=True, metavar="L",
                     help="lattice side: an L x L lattice")  # fmt: skip
    gen.add_argument("--num-samples", type=_positive_int, required=True, metavar="S",
                     help="samples to generate")  # fmt: skip
    gen.add_argument("--target", choices=SAMPLE_TARGETS, default="footprint",
                     help="footprint: one avalanche per sample; hazard: the size of the "
                     "avalanche a grain would cause at every site")  # fmt: skip
    _add_data_seed_argument(gen, 0, "seed of this dataset")
    gen.add_argument("--shard", type=_non_negative_int, default=None, metavar="I",
                     help="generate only part I (from 0) of the --num-shards parts (default: "
                     "every part, merging those already generated)")  # fmt: skip
    gen.add_argument("--num-shards", type=_positive_int, default=1, metavar="N",
                     help="parts the dataset is generated in")  # fmt: skip
    gen.add_argument("--workers", type=_non_negative_int, default=None,
                     help="generating processes (default: up to 4)")  # fmt: skip
    _add_progress_argument(gen)
    gen.set_defaults(func=run_generate, command_parser=gen)

    train = sub.add_parser(
        "train",
        help="train a model on sandpile avalanches of small lattices",
        description="Train one sandpile model on avalanches of the given lattice sizes "
        "(datasets generated into ROOT, seeds DATA_SEED + k for the k-th size and "
        "DATA_SEED + 100 + k for validation) and save the best-validation weights with "
        "their configuration to OUT. --seed seeds the weights and the batch order, "
        "--data-seed the data.",
        formatter_class=_HelpFormatter,
    )
    _add_data_arguments(train, sizes=[16, 32], samples=None, data_seed=1,
                        seed_help="base seed of the training and validation datasets "
                        "(not of the weights: see --seed)")  # fmt: skip
    train.add_argument("--model", choices=SANDPILE_MODELS, default="rgnet-exact",
                       help="the model")  # fmt: skip
    train.add_argument("--hidden", type=_positive_int, default=32, help="hidden channels")
    train.add_argument("--val-samples", type=_positive_int, default=100, metavar="S",
                       help="validation samples per size")  # fmt: skip
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help=f"training epochs (default: per model, {_per_model('epochs')})")
    train.add_argument("--patience", type=_positive_int, default=4,
                       help="stop after this many epochs without a better validation loss")
    train.add_argument("--batch-size", type=_positive_int, default=16, help="graphs per batch")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help=f"Adam's learning rate (default: per model, {_per_model('lr')})")
    train.add_argument("--seed", type=_non_negative_int, default=0,
                       help="seed of the initial weights and of the batch order (not of the "
                       "data: see --data-seed)")  # fmt: skip
    train.add_argument("--restarts", type=_non_negative_int, default=2,
                       help="models with a verifiable local rule (hint, count): retrain with the "
                       "next seed, at most this many times, while the snapped rule fails "
                       "its verification")  # fmt: skip
    train.add_argument("--out", required=True, help="checkpoint file to write")
    _add_threads_argument(train)
    train.set_defaults(func=run_train, command_parser=train)

    ev = sub.add_parser(
        "evaluate",
        help="print a trained model's metrics over lattice sizes",
        description="Evaluate a checkpoint written by 'sgnn train' on fresh datasets "
        "(seed DATA_SEED + L for side L) and print one row per lattice size.",
        formatter_class=_HelpFormatter,
    )
    ev.add_argument("checkpoint", help="a checkpoint written by 'sgnn train'")
    _add_data_arguments(ev, sizes=[16, 32, 64, 128], samples=50, data_seed=10_000,
                        seed_help="base seed of the evaluation datasets: side L uses "
                        "DATA_SEED + L", seed_alias=True)  # fmt: skip
    ev.add_argument("--batch-size", type=_positive_int, default=4, help="graphs per batch")
    _add_threads_argument(ev)
    ev.set_defaults(func=run_evaluate, command_parser=ev)
    return parser


def _per_model(key: str) -> str:
    """``name value, ...`` of one training default, for --help."""
    return ", ".join(f"{name} {values[key]:g}" for name, values in SANDPILE_TRAINING.items())


def _add_data_arguments(parser: argparse.ArgumentParser, sizes: list[int], samples: int | None,
                        data_seed: int, seed_help: str,
                        seed_alias: bool = False) -> None:  # fmt: skip
    parser.add_argument("--root", required=True,
                        help="dataset cache directory (created if missing)")  # fmt: skip
    target = "footprint" if parser.prog.endswith("train") else "the checkpoint's"
    parser.add_argument("--target", choices=SAMPLE_TARGETS, default=None,
                        help=f"footprint or hazard (default: {target})")  # fmt: skip
    parser.add_argument("--sizes", type=_lattice_side, nargs="+", default=sizes, metavar="L",
                        help="lattice sides, each at least 2 (default: "
                        f"{' '.join(map(str, sizes))})")  # fmt: skip
    what = f"{samples}" if samples is not None else f"per model, {_per_model('num_samples')}"
    parser.add_argument("--num-samples", type=_positive_int, default=samples, metavar="S",
                        help=f"samples per size (default: {what})")  # fmt: skip
    _add_data_seed_argument(parser, data_seed, seed_help, seed_alias)
    parser.add_argument("--workers", type=_non_negative_int, default=None,
                        help="generating processes (default: up to 4)")  # fmt: skip
    _add_progress_argument(parser)


def _add_data_seed_argument(parser: argparse.ArgumentParser, default: int, text: str,
                            alias: bool = True) -> None:  # fmt: skip
    """``--data-seed``: the seed of the data in every command that reads or writes datasets
    (``--seed`` is the weights' seed in ``train``); ``alias`` adds ``--seed``, the old
    spelling, which still works and warns."""
    parser.add_argument("--data-seed", type=_non_negative_int, default=default, help=text)
    if alias:
        parser.add_argument("--seed", dest="data_seed", type=_non_negative_int,
                            default=argparse.SUPPRESS, metavar="DATA_SEED",
                            action=_DeprecatedAlias, instead="--data-seed",
                            help="deprecated spelling of --data-seed")  # fmt: skip


def _add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                        help="torch's CPU threads (default: OMP_NUM_THREADS where set, else "
                        "the CPUs this process may use, at most 8; on a machine that other "
                        "jobs load, 1 is fastest)")  # fmt: skip


def _add_progress_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", "--quiet", action="store_true",
                        help="hide progress bars (shown only on a terminal anyway)")  # fmt: skip
