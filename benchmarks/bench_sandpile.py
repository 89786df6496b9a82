"""Speed of the sandpile engine, each figure next to a baseline measured in the same run.

Prints ``name: value unit`` lines (medians over repeats; this machine is noisy):

* ``drive`` on a 256x256 stationary pile, in topplings per second, against a
  plain numba stack relaxation of the same rule that records only sizes (the
  algorithm of a bare C implementation);
* ``sample_recurrent`` at 256², 512², 1024², against driving an empty pile
  until it first becomes recurrent, measured at 64² and 128² (a lower bound on
  the cost of reaching the stationary state by driving, which also needs the
  chain to mix);
* ``identity`` at 64² and 128², against the same formula relaxed by
  vectorised numpy sweeps;
* ``relax`` of 1000 grains on every site of a 64x64 lattice;
* ``avalanche_sizes`` (the hazard map) of a stationary pile at 128² and 256² on
  all of numba's threads, against the same call on one thread (the serial
  kernel), with the total topplings (the cost, which varies from pile to pile).

Usage: ``python benchmarks/bench_sandpile.py [--repeats 5] [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import numpy as np
from _common import median_time, report

from sgnn.sandpile import avalanche_sizes, drive, identity, is_recurrent, relax, sample_recurrent


@numba.njit(cache=True)
def _stack_drive(z: np.ndarray, sites: np.ndarray, h: int, w: int, sizes: np.ndarray) -> None:
    """Baseline: add a grain, relax with a stack, one toppling per pop; sizes only."""
    stack = np.empty(h * w, np.int64)
    for a in range(sites.shape[0]):
        s = sites[a]
        z[s] += 1
        top = 0
        if z[s] >= 4:
            stack[0] = s
            top = 1
        size = 0
        while top > 0:
            top -= 1
            i = stack[top]
            z[i] -= 4
            size += 1
            r = i // w
            c = i - r * w
            # Four explicit neighbours, as a C implementation would write them.
            if r > 0:
                z[i - w] += 1
                if z[i - w] == 4:
                    stack[top] = i - w
                    top += 1
            if r < h - 1:
                z[i + w] += 1
                if z[i + w] == 4:
                    stack[top] = i + w
                    top += 1
            if c > 0:
                z[i - 1] += 1
                if z[i - 1] == 4:
                    stack[top] = i - 1
                    top += 1
            if c < w - 1:
                z[i + 1] += 1
                if z[i + 1] == 4:
                    stack[top] = i + 1
                    top += 1
            if z[i] >= 4:
                stack[top] = i
                top += 1
        sizes[a] = size


def bench_drive(repeats: int, grains: int) -> None:
    shape = (256, 256)
    z0 = sample_recurrent(shape, 1)
    sites = np.random.default_rng(2).integers(0, z0.size, size=grains)
    _stack_drive(z0.reshape(-1).copy(), sites[:10], *shape, np.empty(10, np.int64))
    drive(z0.copy(), 10, 0, progress=False)
    ours, base = [], []
    for r in range(repeats):
        z = z0.copy()
        tic = time.perf_counter()
        stats = drive(z, grains, np.random.default_rng(2), progress=False)
        ours.append(stats.size.sum() / (time.perf_counter() - tic))
        zb = z0.reshape(-1).copy()
        sizes = np.empty(grains, np.int64)
        tic = time.perf_counter()
        _stack_drive(zb, sites, *shape, sizes)
        base.append(sizes.sum() / (time.perf_counter() - tic))
        if r == 0:  # same drop sites, so the same avalanches
            assert np.array_equal(sizes, stats.size) and np.array_equal(zb, z.reshape(-1))
    report("drive_256x256", statistics.median(ours), "topplings/s")
    report("baseline_stack_relax_256x256", statistics.median(base), "topplings/s")
    report("drive_vs_stack_relax", statistics.median(ours) / statistics.median(base), "x")
    report("drive_mean_avalanche_size_256x256", float(stats.size.mean()), "topplings")


def drive_until_recurrent(shape: tuple[int, int], seed: int) -> int:
    """Drop grains on an empty pile, a lattice's worth at a time, until it is recurrent.

    Returns the number of topplings spent.
    """
    z = np.zeros(shape, dtype=np.int64)
    rng = np.random.default_rng(seed)
    topplings = 0
    for _ in range(1000):  # the pile is recurrent after ~3 lattices' worth of grains
        topplings += int(drive(z, z.size, rng, progress=False).size.sum())
        if is_recurrent(z):
            return topplings
    raise RuntimeError("the pile did not become recurrent")


def bench_sample_recurrent(repeats: int, sizes: list[int]) -> None:
    sample_recurrent((8, 8), 0)
    for L in sizes:
        t = median_time(lambda L=L: sample_recurrent((L, L)), repeats)
        report(f"sample_recurrent_{L}x{L}", t, "s")
    for L in (64, 128):
        t_sample = median_time(lambda L=L: sample_recurrent((L, L)), repeats)
        count = drive_until_recurrent((L, L), 0)
        t_drive = median_time(lambda L=L: drive_until_recurrent((L, L), 0), max(1, repeats // 2))
        report(f"baseline_drive_until_recurrent_{L}x{L}", t_drive, "s")
        report(f"baseline_drive_until_recurrent_topplings_{L}x{L}", count, "topplings")
        report(f"sample_recurrent_speedup_vs_driving_{L}x{L}", t_drive / t_sample, "x")


def numpy_relax(z: np.ndarray) -> np.ndarray:
    """Baseline: synchronous sweeps toppling every site's whole excess."""
    z = z.copy()
    while True:
        k = z // 4
        if not k.any():
            return z
        z -= 4 * k
        z[1:, :] += k[:-1, :]
        z[:-1, :] += k[1:, :]
        z[:, 1:] += k[:, :-1]
        z[:, :-1] += k[:, 1:]


def numpy_identity(shape: tuple[int, int]) -> np.ndarray:
    top = np.full(shape, 6, dtype=np.int64)
    return numpy_relax(top - numpy_relax(top))


def bench_identity(repeats: int, sizes: list[int]) -> None:
    identity((8, 8))
    for L in sizes:
        t_ours = median_time(lambda L=L: identity((L, L)), repeats)
        report(f"identity_{L}x{L}", t_ours, "s")
        t_base = median_time(lambda L=L: numpy_identity((L, L)), max(1, repeats // 2))
        assert np.array_equal(numpy_identity((L, L)), identity((L, L)))
        report(f"baseline_numpy_identity_{L}x{L}", t_base, "s")
        report(f"identity_speedup_vs_numpy_{L}x{L}", t_base / t_ours, "x")


def bench_relax(repeats: int) -> None:
    z = np.full((64, 64), 1000, dtype=np.int64)
    relax(np.full((4, 4), 9))
    report("relax_64x64_1000_grains", median_time(lambda: relax(z), repeats), "s")
    report("relax_64x64_1000_grains_topplings", float(relax(z)[1].sum()), "topplings")
    t_np = median_time(lambda: numpy_relax(z), 1)
    report("baseline_numpy_relax_64x64_1000_grains", t_np, "s")


def bench_avalanche_sizes(repeats: int, sizes: list[int]) -> None:
    threads = numba.config.NUMBA_NUM_THREADS
    report("avalanche_sizes_threads", threads, "threads")
    for L in sizes:
        z = sample_recurrent((L, L), 3)
        serial = avalanche_sizes(z, progress=False, num_threads=1)
        parallel = avalanche_sizes(z, progress=False, num_threads=threads)
        assert all(np.array_equal(a, b) for a, b in zip(serial, parallel, strict=True))
        # Both already ran once above (compilation, first-touch allocations).
        t_par = median_time(lambda z=z: avalanche_sizes(z, progress=False, num_threads=threads),
                            repeats, warmup=False)  # fmt: skip
        t_ser = median_time(lambda z=z: avalanche_sizes(z, progress=False, num_threads=1),
                            repeats, warmup=False)  # fmt: skip
        report(f"avalanche_sizes_parallel_{L}", t_par, "s")
        report(f"avalanche_sizes_speedup_vs_serial_{L}", t_ser / t_par, "x")
        # The cost is the total of the sizes, which varies much from one pile to another.
        report(f"avalanche_sizes_topplings_{L}", float(serial[0].sum()), "topplings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repeats per figure (median)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = parser.parse_args()
    print(f"# numba {numba.__version__}, numpy {np.__version__}, medians of {args.repeats}")
    if args.quick:
        bench_drive(args.repeats, 2_000)
        bench_sample_recurrent(args.repeats, [64])
        bench_identity(args.repeats, [32])
        bench_avalanche_sizes(args.repeats, [32, 64])
        return
    bench_drive(args.repeats, 100_000)
    bench_sample_recurrent(args.repeats, [256, 512, 1024])
    bench_identity(args.repeats, [64, 128])
    bench_relax(args.repeats)
    bench_avalanche_sizes(args.repeats, [128, 256])


if __name__ == "__main__":
    main()
