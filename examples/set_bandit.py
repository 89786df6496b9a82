"""Permutation-equivariant bandit policies: trained on 10 arms, played on 5 to 100.

The arms of a bandit have no order, so a policy should be equivariant under
permuting them. Three network structures score every arm from its statistics
(:mod:`sgnn.bandits`): an index network (each arm alone, like UCB), DeepSets
(each arm sees a pooled summary of the others) and a pairwise set layer (each
arm compares itself with every other). Each is trained by REINFORCE with a
baseline on random Bernoulli bandits with K = 10 arms and horizon T = 100,
then played, without retraining, at K = 5, 10, 50, 100 and T = 100, 1000,
10 000 against UCB1, KL-UCB, Thompson sampling, epsilon-greedy and greedy.

Prints the mean pseudo-regret +- standard error per policy and cell (n
instances per cell, fewer where a cell would be too slow, as printed), and saves
``bandit_regret_vs_horizon.png`` and ``bandit_learning_curves.png``.

Usage: ``python examples/set_bandit.py [--quick] [--arms 5 10] [--horizons 100 1000]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from sgnn.bandits import (
    KLUCB,
    SCORER_MODELS,
    UCB1,
    ArmScorer,
    BernoulliBandit,
    EpsilonGreedy,
    Greedy,
    LearnedPolicy,
    ThompsonSampling,
    play,
    train_policy,
)
from sgnn.train import load_checkpoint, save_checkpoint

REFERENCES = {"UCB1": UCB1(), "KL-UCB": KLUCB(), "Thompson": ThompsonSampling(),
              "eps-greedy": EpsilonGreedy(0.1), "greedy": Greedy(),
              "random": EpsilonGreedy(1.0)}  # the trivial baseline: a uniformly random arm
TRAIN_ARMS = 10


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cost(name: str, k: int, t: int) -> float:
    """Relative work of one instance: arms x pulls, and arms^2 x pulls for pairwise."""
    return k * t * (k if name == "pairwise" else 1) * (8 if name == "KL-UCB" else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run of under a minute")
    parser.add_argument("--arms", type=int, nargs="+", default=None)
    parser.add_argument("--horizons", type=int, nargs="+", default=None)
    parser.add_argument("--train-horizon", type=int, default=None,
                        help="training horizon (default: 100; quick: 50)")
    parser.add_argument("--iterations", type=int, default=None, help="training iterations")
    parser.add_argument("--batch-size", type=int, default=None, help="instances per iteration")
    parser.add_argument("--instances", type=int, default=None, help="per evaluation cell")
    parser.add_argument("--budget", type=float, default=None,
                        help="work per cell (instances x arms x pulls), above which a cell "
                             "is evaluated on fewer instances")  # fmt: skip
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/set_bandit"))
    parser.add_argument("--reuse-models", action="store_true",
                        help="load OUT/models/<structure>.pt when its configuration matches")
    args = parser.parse_args()
    q = args.quick
    arms = args.arms or ([5, 10, 20] if q else [5, 10, 50, 100])
    horizons = args.horizons or ([100, 300] if q else [100, 1000, 10_000])
    train_horizon = args.train_horizon or (50 if q else 100)
    iterations = args.iterations or (25 if q else 400)
    batch_size = args.batch_size or (64 if q else 256)
    instances = args.instances or (200 if q else 2000)
    budget = args.budget or (2e6 if q else 4e9)
    args.out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()

    log(f"phase 1/2: training at K = {TRAIN_ARMS}, T = {train_horizon}")
    scorers, curves = {}, {}
    for structure in SCORER_MODELS:
        torch.manual_seed(args.seed)
        scorer = ArmScorer(structure, hidden_channels=32)
        start = time.perf_counter()
        config = {"structure": structure, "arms": TRAIN_ARMS, "horizon": train_horizon,
                  "iterations": iterations, "batch_size": batch_size, "lr": args.lr,
                  "seed": args.seed}  # fmt: skip
        path = args.out / "models" / f"{structure}.pt"
        if args.reuse_models and path.exists() and load_checkpoint(path)["config"] == config:
            payload = load_checkpoint(path, scorer)
            curves[structure] = payload["curve"]
            log(f"{structure}: loaded {path}")
        else:
            curves[structure] = train_policy(scorer, TRAIN_ARMS, train_horizon, iterations,
                                             batch_size, lr=args.lr, seed=args.seed)  # fmt: skip
            save_checkpoint(path, scorer, config, curve=curves[structure])
        scorers[structure] = scorer
        params = sum(p.numel() for p in scorer.parameters())
        log(f"{structure}: {params} parameters, last-20 training regret "
            f"{sum(curves[structure][-20:]) / len(curves[structure][-20:]):.2f}, "
            f"{time.perf_counter() - start:.0f} s")  # fmt: skip

    log("phase 2/2: evaluation")
    policies = {**REFERENCES, **{s: LearnedPolicy(scorers[s]) for s in SCORER_MODELS}}
    cells = [(k, t) for k in arms for t in horizons]
    results: dict[str, dict[tuple[int, int], tuple[float, float, int]]] = {}
    bar = tqdm(total=len(policies) * len(cells), desc="evaluate", leave=False, disable=None)
    for name, policy in policies.items():
        results[name] = {}
        for k, t in cells:
            n = max(20, min(instances, int(budget // cost(name, k, t))))
            bandit = BernoulliBandit(n, k, torch.Generator().manual_seed(10_000 + k))
            regret = play(policy, bandit, t, torch.Generator().manual_seed(20_000 + t))
            results[name][(k, t)] = (float(regret.mean()), float(regret.std()) / math.sqrt(n), n)
            bar.update()
    bar.close()

    header = f"{'policy':<11}" + "".join(f"{f'K={k} T={t}':>22}" for k, t in cells)
    print(f"mean pseudo-regret +- standard error (n instances); learned policies trained at "
          f"K = {TRAIN_ARMS}, T = {train_horizon}, played by their best-scored arm")
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        cells_text = [f"{m:.1f}+-{se:.1f} ({n})" for m, se, n in row.values()]
        print(f"{name:<11}" + "".join(f"{c:>22}" for c in cells_text), flush=True)
    best = min(SCORER_MODELS, key=lambda s: results[s][(TRAIN_ARMS, horizons[0])][0]
               if (TRAIN_ARMS, horizons[0]) in results[s] else math.inf)  # fmt: skip
    print(f"\nbest learned structure at K = {TRAIN_ARMS}, T = {horizons[0]}: {best}")
    for k, t in cells:
        ratio = results[best][(k, t)][0] / max(results["Thompson"][(k, t)][0], 1e-9)
        print(f"  K={k:<4d} T={t:<6d} {best} / Thompson = {ratio:.2f}")
    plot(results, curves, arms, horizons, batch_size, train_horizon, args.out)
    print(f"\ntotal {time.perf_counter() - tic:.0f} s; plots in {args.out}")


def plot(results: dict, curves: dict, arms: list[int], horizons: list[int], batch_size: int,
         train_horizon: int, out: Path) -> None:  # fmt: skip
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots (pip install sgnn[examples])")
        return
    fig, axes = plt.subplots(1, len(arms), figsize=(4.2 * len(arms), 4), squeeze=False)
    for ax, k in zip(axes[0], arms, strict=True):
        for name, row in results.items():
            ys = [row[(k, t)][0] for t in horizons]
            errs = [row[(k, t)][1] for t in horizons]
            ax.errorbar(horizons, ys, yerr=errs, marker="o", ms=4, capsize=2,
                        ls="-" if name in SCORER_MODELS else "--", label=name)  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="horizon T (pulls)",
               ylabel="mean pseudo-regret (reward units)", title=f"K = {k} arms")  # fmt: skip
        ax.set_xticks(horizons, [str(t) for t in horizons])
        ax.minorticks_off()
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Bernoulli bandits, mu ~ U[0, 1]; learned policies trained at K = {TRAIN_ARMS}")
    fig.tight_layout()
    fig.savefig(out / "bandit_regret_vs_horizon.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        window = max(1, len(curve) // 20)
        smooth = [sum(curve[max(0, i - window + 1) : i + 1]) / len(curve[max(0, i - window + 1)
                  : i + 1]) for i in range(len(curve))]  # fmt: skip
        ax.plot([(i + 1) * batch_size for i in range(len(curve))], smooth, label=name)
    ax.set(xlabel="training instances seen", ylabel="mean pseudo-regret of the rollouts",
           title=f"Learning curves at K = {TRAIN_ARMS}, T = {train_horizon} (running mean)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "bandit_learning_curves.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
