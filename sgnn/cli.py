"""Command-line interface: ``python -m sgnn <command>`` or the ``sgnn`` script.

Commands:

* ``simulate`` -- drive a sandpile from an exact stationary sample (or from an
  empty lattice) and print statistics of heights and avalanches next to the
  exact values.
* ``generate`` -- build a :class:`~sgnn.data.SandpileAvalanches` dataset (or
  one shard of it) in a cache directory.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

__all__ = ["main"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text}")
    return value


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
    sim.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    sim.add_argument("--start", choices=("recurrent", "empty"), default="recurrent",
                     help="exact stationary sample (default) or an empty lattice, whose "
                     "first avalanches are transients")  # fmt: skip
    sim.add_argument("--no-progress", action="store_true", help="hide the progress bar")
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
    gen.add_argument("--target", choices=("footprint", "hazard"), default="footprint")
    gen.add_argument("--seed", type=_non_negative_int, default=0)
    gen.add_argument("--shard", type=_non_negative_int, default=None, metavar="I")
    gen.add_argument("--num-shards", type=_positive_int, default=1, metavar="N")
    gen.add_argument("--workers", type=_non_negative_int, default=None,
                     help="generating processes (default: up to 4)")  # fmt: skip
    gen.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    gen.set_defaults(func=_generate)
    return parser


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))
