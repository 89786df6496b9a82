"""The cost of a hazard map: a learned model's one pass against the exact map, same run.

For ``--piles`` stationary piles per side ``L`` (seeds 0, 1, ...; one from
``--sample-from`` up), prints ``name: value unit`` lines, times summed over the piles:

* ``exact_map_<L>``: :func:`sgnn.sandpile.avalanche_sizes` on every thread (one
  avalanche per site; its cost grows like :math:`L^4`), with the topplings it ran.
  From ``--sample-from`` up (default 1024, where the whole map takes well over ten
  minutes on two cores) only a uniform random share ``--sample`` of the sites is
  run (``sites=``) and the time is scaled by the inverse of the share actually
  drawn among the sites that can topple: an unbiased estimate, said so on the line;
* ``<model>_map_<L>`` (``-`` written ``_``): one forward pass of the zoo's hazard models
  (:func:`sgnn.tasks.sandpile_model`; their cost does not depend on their weights):
  ``rgnet-unet`` (the hierarchy built outside the timing) and ``wave`` (exact first
  two waves and a local head), median of repeats;
* ``<model>_speedup_vs_exact_<L>``: the ratio to the exact map;
* ``<model>_peak_memory_<L>``: the growth of the resident memory over one forward
  pass at the largest side, measured in a fresh process.

Usage: ``python benchmarks/bench_hazard.py [--repeats 3] [--sizes 256 512 1024] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
from _common import median_time, report


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


MODELS = ("rgnet-unet", "wave")


def learned_step(name: str, size: int, seed: int = 0) -> Callable[[], None]:
    import torch
    from torch_geometric.data import Batch

    from sgnn.data import sandpile_to_data
    from sgnn.sandpile import sample_recurrent
    from sgnn.tasks import sandpile_model, sandpile_transform

    model = sandpile_model(name, "hazard").eval()
    z = sample_recurrent((size, size), seed)
    transform = sandpile_transform(name)
    data = sandpile_to_data(z)
    data = Batch.from_data_list([transform(data) if transform is not None else data])

    def step() -> None:
        with torch.no_grad():
            model(data)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--piles", type=int, default=3,
                        help="stationary piles per side below --sample-from (one from there)")
    parser.add_argument("--sample-from", type=int, default=1024,
                        help="from this side up, time the exact map on a sample of the sites")
    parser.add_argument("--sample", type=float, default=1 / 16,
                        help="share of the sites in that sample")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="L = 32, 64")
    parser.add_argument("--peak-memory-of", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_memory_of is not None:  # the fresh process that measures the memory
        step = learned_step(args.peak_memory_of[0], int(args.peak_memory_of[1]))
        before = _rss_bytes()
        step()
        print(_rss_bytes() - before)
        return
    sizes = [32, 64] if args.quick else args.sizes

    from sgnn.sandpile import avalanche_sizes, sample_recurrent

    for size in sizes:
        # Avalanche sizes vary much from pile to pile: totals over several piles.
        piles = [sample_recurrent((size, size), seed) for seed in
                 range(1 if size >= args.sample_from else args.piles)]  # fmt: skip
        avalanche_sizes(piles[0][:8, :8].copy(), progress=False)  # compiled before timing
        exact, topplings, shares = 0.0, 0.0, []
        for seed, z in enumerate(piles):
            critical = z == 3
            sampled = size >= args.sample_from and args.sample < 1
            mask = np.random.default_rng(seed).random(z.shape) < args.sample if sampled else None
            tic = time.perf_counter()
            sizes_map, _ = avalanche_sizes(z, progress=None, sites=mask)
            share = (critical & mask).sum() / critical.sum() if sampled else 1.0
            exact += (time.perf_counter() - tic) / share
            topplings += float(np.sum(sizes_map)) / share
            shares.append(share)
        sampled = any(share < 1 for share in shares)
        note = f" over {len(piles)} pile{'s' * (len(piles) > 1)}"
        estimated = f" (estimated: {100 * min(shares):.1f} % of the sites run, scaled)"
        report(f"exact_map_{size}", exact, "s" + note + estimated * sampled)
        report(f"exact_map_topplings_{size}", topplings, "topplings" + note + estimated * sampled)
        for name in MODELS:
            learned = sum(median_time(learned_step(name, size, seed), args.repeats)
                          for seed in range(len(piles)))  # fmt: skip
            key = name.replace("-", "_")
            report(f"{key}_map_{size}", learned, "s" + note)
            report(f"{key}_speedup_vs_exact_{size}", exact / learned, "x")
    for name in MODELS:
        done = subprocess.run([sys.executable, __file__, "--peak-memory-of", name, str(sizes[-1])],
                              capture_output=True, text=True, timeout=1800, check=True)  # fmt: skip
        report(f"{name.replace('-', '_')}_peak_memory_{sizes[-1]}",
               int(done.stdout.split()[-1]) / 2**20, "MiB")  # fmt: skip


if __name__ == "__main__":
    main()
