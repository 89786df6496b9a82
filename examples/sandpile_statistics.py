"""Self-organised criticality of the BTW sandpile, measured from exact stationary samples.

For each lattice size L, draw an exact stationary configuration
(``sample_recurrent``), drop grains at random sites (``drive``) and record every
avalanche. The script prints one table -- per L: the measured mean avalanche
size next to Dhar's exact value, the largest avalanche, the mean duration and
radius, and the exponent tau of P(s) ~ s^-tau fitted by maximum likelihood over
a size window that scales with the lattice -- and saves two plots:

* ``avalanche_sizes.png``: P(s) on log-log axes for every L, a cut-off growing
  with L and no typical size below it;
* ``size_vs_radius.png``: avalanche size against radius of gyration, the
  fractal scaling s ~ r^D.

Usage: ``python examples/sandpile_statistics.py [--sizes 32 64 128] [--grains N]
[--out DIR] [--quick]``. Needs matplotlib (``pip install -e ".[examples]"``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sgnn.sandpile import AvalancheStats, drive, expected_avalanche_size, sample_recurrent


def power_law_exponent(sizes: np.ndarray, s_min: float, s_max: float) -> float:
    """Maximum-likelihood tau of a power law truncated to [s_min, s_max] (continuous
    approximation, solved by bisection on the score equation)."""
    s = sizes[(sizes >= s_min) & (sizes <= s_max)].astype(float)
    if s.size < 10:
        return float("nan")
    mean_log = np.log(s / s_min).mean()
    r = s_max / s_min

    def score(tau: float) -> float:
        # d/dtau of the log-likelihood, divided by the sample size.
        a = 1.0 - tau
        return np.log(r) * r**a / (r**a - 1.0) - 1.0 / a - mean_log

    lo, hi = 1.0001, 3.0
    for _ in range(100):  # bisection: the log-likelihood is concave, its score decreasing
        mid = 0.5 * (lo + hi)
        if score(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def log_binned_pdf(values: np.ndarray, bins_per_decade: int = 8) -> tuple[np.ndarray, np.ndarray]:
    v = values[values > 0]
    edges = np.logspace(0, np.log10(v.max()) + 1e-9, int(np.log10(v.max()) * bins_per_decade) + 2)
    counts, _ = np.histogram(v, bins=edges)
    centres = np.sqrt(edges[1:] * edges[:-1])
    pdf = counts / (np.diff(edges) * values.size)
    keep = counts > 0
    return centres[keep], pdf[keep]


def simulate(L: int, grains: int, seed: int) -> tuple[AvalancheStats, float]:
    rng = np.random.default_rng(seed)
    z = sample_recurrent((L, L), rng)
    tic = time.perf_counter()
    stats = drive(z, grains, rng)
    return stats, time.perf_counter() - tic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--grains", type=int, default=400_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/sandpile_statistics"))
    parser.add_argument("--quick", action="store_true", help="small run for tests (seconds)")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.grains = [16, 32], 20_000

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    header = f"{'L':>5} {'<s> measured':>13} {'<s> exact':>10} {'rel.err':>8} {'max s':>9} "
    header += f"{'<T>':>7} {'<r>':>6} {'tau':>6} {'topplings/s':>12}"
    print(header)
    print("-" * len(header))
    fig_p, ax_p = plt.subplots(figsize=(6, 4.5))
    fig_r, ax_r = plt.subplots(figsize=(6, 4.5))
    for k, L in enumerate(args.sizes):
        stats, seconds = simulate(L, args.grains, args.seed + k)
        exact = expected_avalanche_size((L, L))
        mean = stats.size.mean()
        # Fit window: above lattice-scale corrections, below the finite-size cut-off.
        tau = power_law_exponent(stats.size, 10.0, L**2 / 10)
        rate = stats.size.sum() / seconds
        print(f"{L:>5} {mean:>13.3f} {exact:>10.3f} {(mean - exact) / exact:>+8.2%} "
              f"{stats.size.max():>9d} {stats.duration.mean():>7.2f} {stats.radius.mean():>6.2f} "
              f"{tau:>6.3f} {rate:>12.3g}")  # fmt: skip
        x, pdf = log_binned_pdf(stats.size)
        ax_p.loglog(x, pdf, "o-", ms=3, label=f"L = {L}")
        hit = stats.size > 0
        ax_r.loglog(stats.radius[hit][::10] + 0.5, stats.size[hit][::10], ".", ms=1, alpha=0.3,
                    label=f"L = {L}")  # fmt: skip
    ax_p.set(xlabel="avalanche size s (topplings)", ylabel="P(s) (per toppling)",
             title="BTW avalanche sizes")
    ax_p.legend()
    ax_r.set(xlabel="radius of gyration + 1/2 (lattice spacings)", ylabel="size s (topplings)",
             title="Avalanche size against radius (every 10th avalanche)")
    ax_r.legend(markerscale=10)
    for fig, name in ((fig_p, "avalanche_sizes.png"), (fig_r, "size_vs_radius.png")):
        fig.tight_layout()
        fig.savefig(args.out / name, dpi=120)
        print(f"saved {args.out / name}")


if __name__ == "__main__":
    main()
