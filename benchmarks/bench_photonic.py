"""The cost of a band gap: the plane-wave solver against a learned model, same run.

On ``--cells`` random unit cells (:class:`sgnn.data.PhotonicCrystals`' distribution,
:func:`sgnn.photonics.random_cells`), prints ``name: value unit`` lines:

* ``solver_<side>``: :func:`sgnn.photonics.band_structures` in this process (the TM
  bands on the Γ–X–M–Γ path and the gap between bands 1 and 2, the dataset's labels),
  one thread;
* ``<model>_<side>``: the gap predicted by each model of :func:`sgnn.tasks.bandgap_model`
  for the same cells, batches of 500 without gradients, median of repeats (their cost
  does not depend on their weights);
* ``<model>_speedup_vs_solver_<side>``: the ratio.

Usage: ``python benchmarks/bench_photonic.py [--cells 1000] [--side 16] [--repeats 3]
[--quick]``.
"""

from __future__ import annotations

import argparse
import time

from _common import median_time, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--side", type=int, default=16)
    parser.add_argument("--cutoff", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="50 cells")
    args = parser.parse_args()
    num_cells = 50 if args.quick else args.cells

    import torch
    from torch_geometric.data import Batch

    from sgnn.data import cell_to_data
    from sgnn.photonics import band_structures, random_cells
    from sgnn.tasks import BANDGAP_MODELS, bandgap_model, bandgap_transform

    torch.set_num_threads(1)
    cells = random_cells(num_cells, args.side, 0, (0.05, 0.3))
    tic = time.perf_counter()
    band_structures(cells, cutoff=args.cutoff, points_per_segment=6, num_workers=0,
                    progress=False)  # fmt: skip
    solver = time.perf_counter() - tic
    report(f"solver_{args.side}", solver, f"s for {num_cells} cells, one thread")
    transform = bandgap_transform()
    batches = [Batch.from_data_list([transform(cell_to_data(c)) for c in cells[i:i + 500]])
               for i in range(0, num_cells, 500)]  # fmt: skip
    for name in BANDGAP_MODELS:
        model = bandgap_model(name, args.side).eval()

        def step(model: torch.nn.Module = model) -> None:
            with torch.no_grad():
                for batch in batches:
                    model(batch)

        learned = median_time(step, args.repeats)
        report(f"{name}_{args.side}", learned, f"s for {num_cells} cells, one thread")
        report(f"{name}_speedup_vs_solver_{args.side}", solver / learned, "x")


if __name__ == "__main__":
    main()
