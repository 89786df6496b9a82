"""Permutation-equivariant bandit policies: trained on 10 arms, played on 5 to 100.

The arms of a bandit have no order, so a policy should be equivariant under
permuting them. Three network structures score every arm from its statistics
(:mod:`sgnn.bandits`): an index network (each arm alone, like UCB), DeepSets
(each arm sees a pooled summary of the others) and a pairwise set layer (each
arm compares itself with every other). Each starts as Thompson sampling (its
score is a posterior draw plus a learned correction that is zero at first) and
is trained by REINFORCE with a baseline on random Bernoulli bandits with K = 10
arms and horizons T = 100 and 1000 taken in turn, then played, without
retraining, at T = 100, 1000, 10 000 (and any number of arms, ``--arms``)
against UCB1, KL-UCB, Thompson sampling, epsilon-greedy and greedy. The default
trains DeepSets only (about 40 minutes on 2 cores); ``--models index deepsets
pairwise --arms 5 10 50 100`` is the full comparison, hours long.

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
    THOMPSON_SCALE,
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
#: The settings of a default run and of ``--quick``: the single source of the
#: command-line defaults and of the help text.
SETTINGS = {
    "default": {"arms": [10], "horizons": [100, 1000, 10_000],
                "train_horizons": [100, 1000], "iterations": 200, "batch_size": 256,
                "instances": 2000, "budget": 1e9, "lr": 3e-3, "models": ["deepsets"]},
    "quick": {"arms": [5, 10, 20], "horizons": [100, 300], "train_horizons": [50],
              "iterations": 25, "batch_size": 64, "instances": 200, "budget": 2e6,
              "lr": 1e-2, "models": list(SCORER_MODELS)},
}  # fmt: skip


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cost(name: str, k: int, t: int) -> float:
    """Relative work of one instance: arms x pulls, and arms^2 x pulls for pairwise."""
    return k * t * (k if name == "pairwise" else 1) * (8 if name == "KL-UCB" else 1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run of under a minute")

    def default(key: str) -> str:
        d, q = SETTINGS["default"][key], SETTINGS["quick"][key]
        return f"(default: {d}; quick: {q})"

    parser.add_argument("--models", nargs="+", choices=SCORER_MODELS,
                        help=f"learned structures; pairwise trains about six times slower "
                             f"{default('models')}")  # fmt: skip
    parser.add_argument("--arms", type=int, nargs="+", help=f"arms per cell {default('arms')}")
    parser.add_argument("--horizons", type=int, nargs="+",
                        help=f"pulls per cell {default('horizons')}")  # fmt: skip
    parser.add_argument("--train-horizons", type=int, nargs="+",
                        help=f"training horizons, taken in turn {default('train_horizons')}")
    parser.add_argument("--train-horizon", type=int, nargs="+", dest="train_horizons",
                        help=argparse.SUPPRESS)  # the 0.4 name
    parser.add_argument("--iterations", type=int,
                        help=f"training iterations {default('iterations')}")  # fmt: skip
    parser.add_argument("--batch-size", type=int,
                        help=f"instances per iteration {default('batch_size')}")  # fmt: skip
    parser.add_argument("--instances", type=int,
                        help=f"instances per evaluation cell {default('instances')}")
    parser.add_argument("--budget", type=float,
                        help="work per cell (instances x arms x pulls), above which a cell "
                             f"is evaluated on fewer instances {default('budget')}")  # fmt: skip
    parser.add_argument("--lr", type=float, help=f"Adam learning rate {default('lr')}")
    parser.add_argument("--thompson-prior", action=argparse.BooleanOptionalAction, default=True,
                        help=f"score = {THOMPSON_SCALE:g} x (posterior draw + learned "
                             "correction), so that an untrained policy is Thompson sampling "
                             "(default: on)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the "
                        "training instances (default: 0)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("outputs/set_bandit"),
                        help="output folder (default: outputs/set_bandit)")  # fmt: skip
    parser.add_argument("--reuse-models", action="store_true",
                        help="load OUT/models/<structure>.pt when its configuration matches")
    args = parser.parse_args()
    for key, value in SETTINGS["quick" if args.quick else "default"].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main() -> None:
    args = parse_args()
    arms, horizons, train_horizons = args.arms, args.horizons, args.train_horizons
    iterations, batch_size, instances = args.iterations, args.batch_size, args.instances
    budget = args.budget
    trained_at = f"K = {TRAIN_ARMS}, T = {', '.join(map(str, train_horizons))}"
    args.out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()

    log(f"phase 1/2: training at {trained_at}")
    scorers, curves = {}, {}
    for structure in args.models:
        torch.manual_seed(args.seed)
        scorer = ArmScorer(structure, hidden_channels=32, thompson_prior=args.thompson_prior)
        start = time.perf_counter()
        config = {"structure": structure, "arms": TRAIN_ARMS, "horizons": train_horizons,
                  "iterations": iterations, "batch_size": batch_size, "lr": args.lr,
                  "thompson_prior": args.thompson_prior, "seed": args.seed}  # fmt: skip
        path = args.out / "models" / f"{structure}.pt"
        if args.reuse_models and path.exists() and load_checkpoint(path)["config"] == config:
            payload = load_checkpoint(path, scorer)
            curves[structure] = payload["curve"]
            log(f"{structure}: loaded {path}")
        else:
            curves[structure] = train_policy(scorer, TRAIN_ARMS, train_horizons, iterations,
                                             batch_size, lr=args.lr, seed=args.seed)  # fmt: skip
            save_checkpoint(path, scorer, config, curve=curves[structure])
        scorers[structure] = scorer
        params = sum(p.numel() for p in scorer.parameters())
        log(f"{structure}: {params} parameters, last-20 training regret "
            f"{sum(curves[structure][-20:]) / len(curves[structure][-20:]):.2f}, "
            f"{time.perf_counter() - start:.0f} s")  # fmt: skip

    log("phase 2/2: evaluation")
    policies = {**REFERENCES, **{s: LearnedPolicy(scorers[s]) for s in args.models}}
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
          f"{trained_at}, played by their best-scored arm")
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        cells_text = [f"{m:.1f}+-{se:.1f} ({n})" for m, se, n in row.values()]
        print(f"{name:<11}" + "".join(f"{c:>22}" for c in cells_text), flush=True)
    best = min(args.models, key=lambda s: results[s][(TRAIN_ARMS, horizons[0])][0]
               if (TRAIN_ARMS, horizons[0]) in results[s] else math.inf)  # fmt: skip
    print(f"\nbest learned structure at K = {TRAIN_ARMS}, T = {horizons[0]}: {best}")
    for k, t in cells:
        ratio = results[best][(k, t)][0] / max(results["Thompson"][(k, t)][0], 1e-9)
        print(f"  K={k:<4d} T={t:<6d} {best} / Thompson = {ratio:.2f}")
    plot(results, curves, arms, horizons, batch_size, trained_at, args.out)
    print(f"\ntotal {time.perf_counter() - tic:.0f} s; plots in {args.out}")


def plot(results: dict, curves: dict, arms: list[int], horizons: list[int], batch_size: int,
         trained_at: str, out: Path) -> None:  # fmt: skip
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
           title=f"Learning curves at {trained_at} (running mean)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "bandit_learning_curves.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
