"""``sgnn simulate`` and ``sgnn generate``: the sandpile engine and its datasets, from the
command line (``simulate`` without torch)."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def run_simulate(args: argparse.Namespace) -> int:
    from ..sandpile import (
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


def run_generate(args: argparse.Namespace) -> int:
    from ..data import SandpileAvalanches

    tic = time.perf_counter()
    try:
        dataset = SandpileAvalanches(
            args.root, args.size, args.num_samples, args.target, args.data_seed,
            num_workers=args.workers, shard=args.shard, num_shards=args.num_shards,
            log=not args.no_progress,
        )  # fmt: skip
    except (TypeError, ValueError) as err:
        print(f"sgnn generate: error: {err}", file=sys.stderr)
        return 2
    print(f"{dataset!r}: {len(dataset)} samples in {dataset.processed_paths[0]} "
          f"({time.perf_counter() - tic:.1f} s)")  # fmt: skip
    return 0
