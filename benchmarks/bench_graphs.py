"""Speed of graph construction, each figure next to a baseline measured in the same run.

Prints ``name: value unit`` lines (medians over repeats; this machine is noisy):

* the 4-neighbour ``edge_index`` plus the full coarse-graining hierarchy of a
  1024x1024 lattice (``coarse_grain_hierarchy``, whose level 0 is the
  lattice), against ``torch_geometric.utils.grid(1024, 1024)``, which builds
  only the (8-neighbour) level-0 graph;
* a radius graph on 10^5 particles in a periodic 3-D box (about 16
  neighbours each), against the same search by ``scipy.spatial.cKDTree``
  alone (sgnn adds sorting, both directions and edge features).

Usage: ``python benchmarks/bench_graphs.py [--repeats 5] [--quick]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch_geometric
from _common import median_time, report
from scipy.spatial import cKDTree
from torch_geometric.utils import grid

from sgnn.data import coarse_grain_hierarchy, particles_to_data


def bench_lattice(repeats: int, side: int) -> None:
    hierarchy = coarse_grain_hierarchy((side, side))
    ours = median_time(lambda: coarse_grain_hierarchy((side, side)), repeats)
    base = median_time(lambda: grid(side, side), repeats)
    report(f"lattice_hierarchy_{side}x{side}", ours, "s")
    report(f"lattice_hierarchy_{side}x{side}_levels", hierarchy.num_levels, "levels")
    edges = sum(e.size(1) for e in hierarchy.edge_index)
    report(f"lattice_hierarchy_{side}x{side}_edges", edges, "edges")
    report(f"baseline_pyg_grid_{side}x{side}", base, "s")
    report(f"lattice_hierarchy_speedup_vs_pyg_grid_{side}x{side}", base / ours, "x")


def bench_particles(repeats: int, n: int, neighbours: float) -> None:
    rng = np.random.default_rng(0)
    pos = rng.random((n, 3))
    r = (neighbours * 3 / (4 * np.pi * n)) ** (1 / 3)
    data = particles_to_data(pos, r=r, box=1.0)
    ours = median_time(lambda: particles_to_data(pos, r=r, box=1.0), repeats)
    base = median_time(
        lambda: cKDTree(pos, boxsize=1.0).query_pairs(r, output_type="ndarray"), repeats
    )
    report(f"radius_graph_periodic_3d_{n}", ours, "s")
    report(f"radius_graph_periodic_3d_{n}_mean_degree", data.num_edges / n, "neighbours")
    report(f"baseline_ckdtree_query_pairs_{n}", base, "s")
    report(f"radius_graph_overhead_vs_ckdtree_{n}", ours / base, "x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repeats per figure (median)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = parser.parse_args()
    print(
        f"# torch {torch.__version__}, torch_geometric {torch_geometric.__version__}, "
        f"{torch.get_num_threads()} threads, medians of {args.repeats}"
    )
    if args.quick:
        bench_lattice(args.repeats, 128)
        bench_particles(args.repeats, 10_000, 16)
        return
    bench_lattice(args.repeats, 1024)
    bench_particles(args.repeats, 100_000, 16)


if __name__ == "__main__":
    main()
