"""What RG-recurrent would have to achieve to beat the local count model on wall time.

On the same fresh avalanches per lattice side, with the count model's exact
rule (:meth:`sgnn.tasks.CountAutomaton.set_exact`, which is what training
reaches) and an RG-recurrent of the zoo's size (its cost per iteration does
not depend on its weights), prints ``name: value unit`` lines (medians over
repeats; this machine is noisy):

* ``count_avalanche_*``: mean seconds per avalanche of the count model
  (sparse iteration, run until it settles), and its mean iterations;
* ``rg_iteration_*``: seconds per RG-recurrent iteration (one pass over the
  whole coarse-graining hierarchy), against ``count_dense_iteration_*``, one
  dense count iteration over the same lattice (the ratio is the price of the
  hierarchy and the wider state per site);
* ``rg_break_even_iterations_*``: how many RG-recurrent iterations cost as
  much as the count model's mean avalanche, and that number over the count
  model's mean iterations (``rg_break_even_iteration_ratio_*``). RG-recurrent
  pays on wall time only if it settles avalanches in fewer iterations than
  this; measured in the tutorial, it needs about half as many as the local
  models (ratio 0.51).

Usage: ``python benchmarks/bench_rg_recurrent.py [--repeats 3] [--samples 10] [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from _common import median_time, report
from torch_geometric.data import Batch

from sgnn.data import AddHierarchy, avalanche_to_data
from sgnn.sandpile import avalanche_sample
from sgnn.tasks import CountAutomaton, sandpile_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=20,
                        help="fresh avalanches per size for the count model's timing")
    parser.add_argument("--quick", action="store_true", help="L = 32, 64 and 3 avalanches")
    args = parser.parse_args()
    sizes = (32, 64) if args.quick else (128, 256, 512)
    samples = 3 if args.quick else args.samples
    torch.manual_seed(0)
    count = CountAutomaton().set_exact().eval()
    rg = sandpile_model("rg-recurrent").eval()
    to_hierarchy = AddHierarchy()
    for size in sizes:
        children = np.random.SeedSequence(20261203 + size).spawn(samples)
        graphs = [avalanche_to_data(avalanche_sample((size, size), "footprint", child))
                  for child in children]  # fmt: skip
        seconds, iterations = [], []
        with torch.no_grad():
            for graph in graphs:
                batch = Batch.from_data_list([graph])
                count(batch)  # warm-up: the adjacency of the sparse iteration
                tic = time.perf_counter()
                result = count(batch)
                seconds.append(time.perf_counter() - tic)
                iterations.append(int(result.iterations[0]))
            one = Batch.from_data_list([graphs[0]])
            hier = Batch.from_data_list([to_hierarchy(graphs[0])])
            dense = median_time(lambda one=one: count(one, num_iters=4, sparse=False),
                                args.repeats) / 4  # fmt: skip
            rg_iter = median_time(lambda hier=hier: rg(hier, num_iters=2), args.repeats) / 2
        # Means, not medians: the heavy tail of avalanche sizes is where the time goes.
        per_avalanche = statistics.fmean(seconds)
        mean_iters = statistics.fmean(iterations)
        report(f"count_avalanche_{size}", per_avalanche, "s")
        report(f"count_iterations_{size}", mean_iters, "iterations")
        report(f"count_dense_iteration_{size}", dense, "s")
        report(f"rg_iteration_{size}", rg_iter, "s")
        report(f"rg_vs_count_dense_iteration_{size}", rg_iter / dense, "x")
        report(f"rg_break_even_iterations_{size}", per_avalanche / rg_iter, "iterations")
        report(f"rg_break_even_iteration_ratio_{size}", per_avalanche / rg_iter / mean_iters,
               "x")  # fmt: skip


if __name__ == "__main__":
    main()
