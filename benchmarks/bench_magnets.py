"""Speed of the exact diagonalisation of the J1-J2 Heisenberg model.

Prints ``name: value unit`` lines (medians over repeats; this machine is noisy):

* building the S^z = 0 Hamiltonian of a periodic cluster (numba, CSR) and one product
  with a vector, against scipy's CSR product on the same matrix (the baseline; scipy runs
  it on one core, sgnn's kernel on all);
* one full ground-state computation, Hamiltonian plus Lanczos (a single run: the
  acceptance figure of issue 16 is 6 x 4 at J2 = 0.5 in under 10 minutes on 2 cores).

Usage: ``python benchmarks/bench_magnets.py [--repeats 5] [--quick]`` (quick: 4 x 5).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from _common import median_time, report

from sgnn.magnets import heisenberg_ground_state
from sgnn.magnets.heisenberg import _Hamiltonian


def bench_products(shape: tuple[int, int], tag: str, repeats: int) -> None:
    build = median_time(lambda: _Hamiltonian(shape, 1.0, 0.5, False), repeats, warmup=False)
    ham = _Hamiltonian(shape, 1.0, 0.5, False)
    csr = ham.csr()
    x = np.random.default_rng(0).standard_normal(csr.shape[0])
    np.testing.assert_allclose(ham.matvec(x), csr @ x, rtol=1e-10, atol=1e-10)
    ours = median_time(lambda: ham.matvec(x), repeats)
    base = median_time(lambda: csr @ x, repeats)
    report(f"heisenberg_hamiltonian_build_{tag}", build, "s")
    report(f"heisenberg_hamiltonian_nonzeros_{tag}", csr.nnz, "entries")
    report(f"heisenberg_matvec_{tag}", ours, "s")
    report(f"baseline_scipy_csr_matvec_{tag}", base, "s")
    report(f"heisenberg_matvec_speedup_vs_scipy_csr_{tag}", base / ours, "x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    shape = (4, 5) if args.quick else (6, 4)
    tag = f"{shape[0]}x{shape[1]}"
    n = shape[0] * shape[1]
    heisenberg_ground_state((2, 4), progress=False)  # compile (or load) every kernel
    print(f"# J1-J2 Heisenberg, periodic {tag}, J2 = 0.5, {math.comb(n, n // 2)} states")

    bench_products(shape, tag, args.repeats)  # frees the matrices before the full run

    tic = time.perf_counter()
    gs = heisenberg_ground_state(shape, j2=0.5, progress=False)
    report(f"heisenberg_ground_state_{tag}", time.perf_counter() - tic, "s")
    report(f"heisenberg_ground_state_energy_{tag}", gs.energy, "J1")


if __name__ == "__main__":
    main()
