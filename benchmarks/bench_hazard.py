"""The cost of a hazard map: a learned model's one pass against the exact map, same run.

For one stationary pile per side ``L``, prints ``name: value unit`` lines:

* ``exact_map_<L>``: :func:`sgnn.sandpile.avalanche_sizes` on every thread (one
  avalanche per site; its cost grows like :math:`L^4`), with the topplings it ran;
* ``learned_map_<L>``: one forward pass of the zoo's ``rgnet-unet`` hazard model
  (:func:`sgnn.tasks.sandpile_model`; its cost does not depend on its weights), the
  hierarchy built outside the timing, median of repeats;
* ``learned_speedup_vs_exact_<L>``: the ratio of the two;
* ``learned_peak_memory_<L>``: the growth of the resident memory over one forward
  pass at the largest side, measured in a fresh process.

Usage: ``python benchmarks/bench_hazard.py [--repeats 3] [--sizes 256 512 1024] [--quick]``.
The exact map at L = 1024 takes minutes on two cores.
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


def learned_step(size: int) -> Callable[[], None]:
    import torch
    from torch_geometric.data import Batch

    from sgnn.data import AddHierarchy, sandpile_to_data
    from sgnn.sandpile import sample_recurrent
    from sgnn.tasks import sandpile_model

    model = sandpile_model("rgnet-unet", "hazard").eval()
    z = sample_recurrent((size, size), 0)
    data = Batch.from_data_list([AddHierarchy()(sandpile_to_data(z))])

    def step() -> None:
        with torch.no_grad():
            model(data)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--quick", action="store_true", help="L = 32, 64")
    parser.add_argument("--peak-memory-of", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_memory_of is not None:  # the fresh process that measures the memory
        step = learned_step(args.peak_memory_of)
        before = _rss_bytes()
        step()
        print(_rss_bytes() - before)
        return
    sizes = [32, 64] if args.quick else args.sizes

    from sgnn.sandpile import avalanche_sizes, sample_recurrent

    for size in sizes:
        z = sample_recurrent((size, size), 0)
        avalanche_sizes(z[:8, :8].copy(), progress=False)  # compiled before timing
        tic = time.perf_counter()
        sizes_map, _ = avalanche_sizes(z, progress=None)
        exact = time.perf_counter() - tic
        learned = median_time(learned_step(size), args.repeats)
        report(f"exact_map_{size}", exact, "s")
        report(f"exact_map_topplings_{size}", float(np.sum(sizes_map)), "topplings")
        report(f"learned_map_{size}", learned, "s")
        report(f"learned_speedup_vs_exact_{size}", exact / learned, "x")
    done = subprocess.run([sys.executable, __file__, "--peak-memory-of", str(sizes[-1])],
                          capture_output=True, text=True, timeout=1800, check=True)  # fmt: skip
    report(f"learned_peak_memory_{sizes[-1]}", int(done.stdout.split()[-1]) / 2**20, "MiB")


if __name__ == "__main__":
    main()
