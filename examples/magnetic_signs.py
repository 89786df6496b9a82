"""Learn the sign structure of a frustrated magnet from a small fraction of its basis.

The ground state psi of the spin-1/2 J1-J2 Heisenberg antiferromagnet on a periodic cluster
(6 x 4 spins by default; exact diagonalisation, cached) is written in the S^z basis. Each
model sees a basis state sigma as a spin image on the periodic lattice and predicts
sign psi(sigma); it is trained on a fraction eps of the basis drawn ~ |psi|^2 and scored on
states it has not seen, by sign accuracy weighted by |psi|^2 and unweighted.

The split is by symmetry orbit (translations x point group of the periodic cluster): a
fixed half of the orbits, the same for every J2, eps and seed, is the test set, and the
training states are drawn from the other half, so that no test state is the image of a
training state (an invariant model would score those for free). Every model is trained
by the same protocol (sgnn.tasks.fit_sign_model): runs on the training states outside a
validation share of their orbits, restarted until one reaches --target-accuracy on the
validation orbits (at most --restarts runs), the one with the best validation accuracy
kept; no test state is seen. Models with about the same number of parameters: an
invariant stack of dilated LatticeConvs with global pooling, the same stack without
dilations, and an MLP on the flattened spins; optionally the dilated stack on the
Marshall-rotated sign.

    python examples/magnetic_signs.py --quick      # 4 x 4, J2 in {0, 0.5}, eps 0.1, 2 seeds
    python examples/magnetic_signs.py              # 6 x 4, J2 = 0, eps 1e-2, dilated, 5 seeds
    python examples/magnetic_signs.py --models dilated plain mlp --j2 0 0.8   # the comparison
    python examples/magnetic_signs.py --j2 0 0.3 0.5 0.55 0.6 0.8 --fractions 0.1 0.01 0.001
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from sgnn.data import HeisenbergSigns
from sgnn.magnets import (
    heisenberg_ground_state,
    lattice_translation,
    marshall_sign,
    symmetry_eigenvalue,
)
from sgnn.tasks import fit_sign_model, sign_accuracy, sign_logits

MODELS = ("dilated", "plain", "mlp")
#: A seed succeeds when its model's weighted accuracy on the orbit-unseen test states
#: reaches this.
SUCCESS = 0.99
LABELS = {"dilated": "dilated", "plain": "plain", "mlp": "MLP", "marshall": "dilated·Marshall"}
#: The settings of a default run and of ``--quick``: the single source of the
#: command-line defaults and of the help text.
SETTINGS = {
    "default": {"shape": [6, 4], "j2": [0.0], "fractions": [1e-2], "seeds": 5,
                "restarts": 5, "target_accuracy": 0.999, "steps": 6000, "models": ["dilated"]},
    "quick": {"shape": [4, 4], "j2": [0.0, 0.5], "fractions": [0.1], "seeds": 2,
              "restarts": 1, "target_accuracy": 0.999, "steps": 400, "models": list(MODELS)},
}  # fmt: skip


def _target(text: str) -> float | str:
    """--target-accuracy: a float in (0, 1], or 'none'."""
    if text.lower() == "none":
        return "none"
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] or 'none', got {text}")
    return value


def _defaults(key: str) -> str:
    return f"(default: {SETTINGS['default'][key]}; quick: {SETTINGS['quick'][key]})"


def symmetry_report(gs) -> dict[str, float]:
    """<psi|P|psi> for unit translations and the two axis reflections: +1 means an
    invariant model can represent the signs."""
    h, w = gs.shape
    r, c = np.divmod(np.arange(h * w), w)
    perms = {"T_row": lattice_translation(gs.shape, (1, 0)),
             "T_col": lattice_translation(gs.shape, (0, 1)),
             "R_row": ((-r) % h) * w + c, "R_col": r * w + (-c) % w}  # fmt: skip
    return {k: symmetry_eigenvalue(gs, p) for k, p in perms.items()}


def draws(pool, count: int, seed: list[int]) -> tuple[np.ndarray, np.ndarray, bool]:
    """Items of ``pool`` (a HeisenbergSigns split) to score on: all of them when there are
    at most ``count``, else ``count`` drawn ~ |psi|^2 (weighted accuracy = their plain
    mean) and ``count`` drawn uniformly (unweighted accuracy)."""
    index = np.arange(len(pool))
    if len(index) <= count:
        return index, index, True
    rng = np.random.default_rng(seed)
    p = pool.weight.numpy()
    return (rng.choice(index, size=count, p=p / p.sum()),
            rng.choice(index, size=count, replace=False), False)  # fmt: skip


def scores(logits_of, pool, picks: tuple[np.ndarray, np.ndarray, bool]) -> tuple[float, float]:
    """(weighted, unweighted) sign accuracy on the picks of ``pool`` of the logits that
    ``logits_of(index)`` gives for the states ``pool[index]``."""
    weighted, uniform, exact = picks
    out = []
    for index in (weighted, uniform):
        # Drawn ~ |psi|^2, the weighted accuracy is the plain mean over the draw.
        w = pool.weight[index] if exact else torch.ones(len(index), dtype=torch.float64)
        out.append(sign_accuracy(logits_of(index), pool.sign[index], w))
    return out[0][0], out[1][1]


def marshall_logits(pool, index: np.ndarray, shape, overall: float = 1.0) -> torch.Tensor:
    """Marshall's sign rule as logits +-1 for the items ``index`` of a split (1 on the
    Marshall-rotated target), times the global sign ``overall``."""
    if pool.marshall_rotated:
        return torch.full((len(index),), overall)
    return overall * torch.from_numpy(marshall_sign(pool.state[index].numpy(), shape)).float()


def run_one(job: dict) -> dict:
    """Train one model on one (J2, eps, seed) by the restart protocol and score it on the
    orbit-unseen test states and on every unseen state."""
    torch.set_num_threads(1)
    a = job["args"]
    shape = tuple(a["shape"])
    rotated = job["model"] == "marshall"
    common = {"j2": job["j2"], "fraction": job["fraction"], "seed": job["seed"],
              "holdout": "orbit", "marshall_rotated": rotated, "progress": False}  # fmt: skip
    train = HeisenbergSigns(a["root"], shape, **common)
    name = "dilated" if rotated else job["model"]
    dilations = tuple(a["dilations"])
    lr = a["mlp_lr"] if name == "mlp" else a["lr"]
    start = time.perf_counter()
    fit = fit_sign_model(name, train, restarts=a["restarts"],
                         target_accuracy=a["target_accuracy"], hidden_channels=a["hidden"],
                         dilations=dilations, steps=a["steps"], batch_size=a["batch_size"],
                         lr=lr, seed=job["seed"], sampling=a["sampling"])  # fmt: skip
    seconds = time.perf_counter() - start
    # One test draw per (cluster, J2), shared by every fraction, seed and model.
    test = HeisenbergSigns(a["root"], shape, split="test", **common)
    test_picks = draws(test, a["test_states"], [0x7E57])
    orbit = scores(lambda i: sign_logits(fit.model, test.spins[i].long(), shape, dilations),
                   test, test_picks)  # fmt: skip
    unseen = HeisenbergSigns(a["root"], shape, split="unseen", **common)
    every = scores(lambda i: sign_logits(fit.model, unseen.spins[i].long(), shape, dilations),
                   unseen, draws(unseen, a["test_states"], [job["seed"], 0x7E57]))  # fmt: skip
    # The parameter-free baseline: Marshall's rule, its global sign fixed on the training
    # states, on the same test draw.
    fitted = marshall_logits(train, np.arange(len(train)), shape) * train.sign
    overall = 1.0 if float((train.weight * fitted).sum()) >= 0 else -1.0
    rule = scores(lambda i: marshall_logits(test, i, shape, overall), test, test_picks)
    return {**{k: job[k] for k in ("j2", "fraction", "seed", "model")},
            "weighted": orbit[0], "unweighted": orbit[1], "unseen_weighted": every[0],
            "marshall_rule": rule[0],
            "exact": len(test) <= a["test_states"], "train_states": len(train),
            "params": sum(p.numel() for p in fit.model.parameters()),
            "restart": fit.restart, "validation": fit.validation_accuracy,
            "reached_target": fit.reached_target,
            "final_loss": fit.final_loss[fit.restart], "seconds": seconds}


#: The tables: result key and title.
TABLES = {
    "weighted": "weighted sign accuracy on orbit-unseen test states (the main number), "
                "mean +- std over seeds",
    "unseen_weighted": "weighted sign accuracy on every unseen state (images of training "
                       "states included), mean +- std over seeds",
    "unweighted": "unweighted sign accuracy on orbit-unseen test states, mean +- std over seeds",
}  # fmt: skip


def summarise(results: list[dict], j2s, fractions, models) -> list[dict]:
    rows = []
    for j2 in j2s:
        for eps in fractions:
            row = {"j2": j2, "fraction": eps}
            for m in models:
                rs = [r for r in results if r["j2"] == j2 and r["fraction"] == eps
                      and r["model"] == m]  # fmt: skip
                for key in TABLES:
                    v = np.array([r[key] for r in rs])
                    row[f"{m}_{key}"] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1
                                         else 0.0, len(v))  # fmt: skip
                row[f"{m}_success"] = (sum(r["weighted"] >= SUCCESS for r in rs), len(rs))
            row["rule"] = float(np.mean([r["marshall_rule"] for r in results
                                         if r["j2"] == j2 and r["fraction"] == eps]))  # fmt: skip
            rows.append(row)
    return rows


def print_table(rows: list[dict], models, key: str) -> None:
    head = f"{'J2':>5} {'eps':>6}" + "".join(f" {LABELS[m]:>17}" for m in models)
    if key == "success":
        print(f"\nseeds whose weighted accuracy on orbit-unseen states reaches {SUCCESS}")
        print(head)
        for row in rows:
            cells = "".join(f" {'{}/{}'.format(*row[f'{m}_success']):>17}" for m in models)
            print(f"{row['j2']:>5g} {row['fraction']:>6g}{cells}")
        return
    print(f"\n{TABLES[key]}")
    claim = all(m in models for m in MODELS)  # the seed paper's ordering, when all ran
    print(head + ("   dilated>=plain>=MLP" if claim else ""))
    for row in rows:
        cells = "".join(f"  {row[f'{m}_{key}'][0]:.4f} +- {row[f'{m}_{key}'][1]:.4f}"
                        for m in models)  # fmt: skip
        if claim:
            d, p, m = (row[f"{n}_{key}"][0] for n in MODELS)
            cells += (f"   {'yes' if d >= p >= m else 'no':>3} (d-p {d - p:+.4f}, "
                      f"p-m {p - m:+.4f})")
        print(f"{row['j2']:>5g} {row['fraction']:>6g}{cells}")


def plot(rows: list[dict], models, j2s, fractions, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def cell(j2: float, eps: float, m: str) -> tuple[float, float, int]:
        return next(r for r in rows if r["j2"] == j2 and r["fraction"] == eps)[f"{m}_weighted"]

    # (file, title, panels, x values, cell of (panel, x), panel title, x label, log x)
    figures = [
        ("accuracy_vs_j2.png", "frustration", fractions, j2s, lambda eps, j2: (j2, eps),
         "trained on ε = {:g} of the basis", "J2 / J1 (dimensionless)", False),
        ("accuracy_vs_fraction.png", "training fraction", j2s, fractions,
         lambda j2, eps: (j2, eps), "J2 / J1 = {:g}", "training fraction ε of the basis", True),
    ]  # fmt: skip
    for name, what, panels, xs, key, title, xlabel, logx in figures:
        fig, axes = plt.subplots(1, len(panels), figsize=(max(6.0, 3.4 * len(panels) + 0.8), 3.6),
                                 sharey=True, squeeze=False)  # fmt: skip
        for ax, panel in zip(axes[0], panels, strict=True):
            for m in models:
                v = [cell(*key(panel, x), m) for x in xs]
                ax.errorbar(xs, [c[0] for c in v], yerr=[c[1] for c in v], marker="o",
                            capsize=3, label=LABELS[m])  # fmt: skip
            ax.set_title(title.format(panel))
            ax.set_xlabel(xlabel)
            if logx:
                ax.set_xscale("log")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("weighted sign accuracy (fraction)")
        axes[0][0].legend(fontsize=8)
        fig.suptitle(f"Sign accuracy on unseen states vs {what} (mean ± std over seeds)",
                     fontsize=10)  # fmt: skip
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)


def report(results: list[dict], out: Path, test_states: int | None = None,
           quick: bool = False) -> None:  # fmt: skip
    """The tables of ``results`` and the two plots in ``out``; in quick mode, a line for
    every model still behind Marshall's rule."""
    out.mkdir(parents=True, exist_ok=True)
    j2s = sorted({r["j2"] for r in results})
    fractions = sorted({r["fraction"] for r in results}, reverse=True)
    models = [m for m in [*MODELS, "marshall"] if any(r["model"] == m for r in results)]
    rows = summarise(results, j2s, fractions, models)
    params = {m: next(r["params"] for r in results if r["model"] == m) for m in models}
    print("\nparameters: " + ", ".join(f"{LABELS[m]} {params[m]}" for m in models))
    exact = all(r["exact"] for r in results)
    print("scored on " + ("every test state" if exact else
                          f"{test_states or 'N'} test states drawn ~ |psi|^2 (weighted) and "
                          f"as many drawn uniformly (unweighted), one draw per (cluster, J2)"))
    for key in (*TABLES, "success"):
        print_table(rows, models, key)
    print("\nMarshall's rule (no training; its global sign fixed on the training states), "
          "weighted accuracy on the same orbit-unseen test states: " + ", ".join(
              f"J2 {row['j2']:g} eps {row['fraction']:g}: {row['rule']:.4f}" for row in rows))
    for row in rows if quick else []:
        for m in models:
            mean = row[f"{m}_weighted"][0]
            if mean < row["rule"]:
                print(f"not converged in quick mode: {LABELS[m]} is behind Marshall's rule at "
                      f"J2 = {row['j2']:g}, eps = {row['fraction']:g} ({mean:.4f} vs "
                      f"{row['rule']:.4f}); run without --quick")  # fmt: skip
    train_sizes = sorted({(r["fraction"], r["train_states"]) for r in results})
    print("\ntraining states: " + ", ".join(f"eps {e:g}: {n}" for e, n in train_sizes))
    runs = {m: [r for r in results if r["model"] == m] for m in models}
    print("runs per seed, mean (seeds whose best run missed the validation target): " + ", ".join(
        f"{LABELS[m]} {np.mean([len(r['validation']) for r in rs]):.1f} "
        f"({sum(not r.get('reached_target', True) for r in rs)}/{len(rs)})"
        for m, rs in runs.items()))  # fmt: skip
    print("mean training time per model: " + ", ".join(
        f"{LABELS[m]} {np.mean([r['seconds'] for r in results if r['model'] == m]):.1f} s"
        for m in models))  # fmt: skip
    plot(rows, models, j2s, fractions, out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run of a few minutes")
    parser.add_argument("--shape", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help=f"periodic cluster {_defaults('shape')}")  # fmt: skip
    parser.add_argument("--j2", type=float, nargs="+", default=None,
                        help=f"couplings J2/J1 {_defaults('j2')}")  # fmt: skip
    parser.add_argument("--fractions", type=float, nargs="+", default=None,
                        help=f"training fractions eps of the basis {_defaults('fractions')}")
    parser.add_argument("--seeds", type=int, default=None,
                        help=f"seeds per cell {_defaults('seeds')}")  # fmt: skip
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds are first-seed, first-seed + 1, ... (default: 0)")
    parser.add_argument("--restarts", type=int, default=None,
                        help=f"runs per seed at most, the best on validation orbits kept "
                             f"{_defaults('restarts')}")  # fmt: skip
    parser.add_argument("--target-accuracy", type=_target, default=None,
                        help=f"stop restarting once a run's accuracy on the validation "
                             f"orbits reaches this; 'none' runs every restart "
                             f"{_defaults('target_accuracy')}")  # fmt: skip
    parser.add_argument("--steps", type=int, default=None,
                        help=f"Adam steps per run {_defaults('steps')}")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=256,
                        help="states per step (default: 256)")  # fmt: skip
    parser.add_argument("--lr", type=float, default=3e-3,
                        help="Adam learning rate of the lattice models (default: 3e-3)")
    parser.add_argument("--mlp-lr", type=float, default=1e-2,
                        help="Adam learning rate of the MLP (default: 1e-2)")  # fmt: skip
    parser.add_argument("--hidden", type=int, default=16,
                        help="hidden channels of the lattice models (default: 16)")
    parser.add_argument("--dilations", type=int, nargs="+", default=[1, 2, 3, 1],
                        help="of the dilated model (default: 1 2 3 1)")  # fmt: skip
    parser.add_argument("--test-states", type=int, default=30000,
                        help="score on all test states up to this many, else on draws "
                             "(default: 30000)")  # fmt: skip
    parser.add_argument("--models", nargs="+", default=None, choices=[*MODELS, "marshall"],
                        help="'marshall': the dilated model on the Marshall-rotated sign "
                             f"{_defaults('models')}")  # fmt: skip
    parser.add_argument("--sampling", choices=["weight", "uniform"], default="weight",
                        help="minibatch states ~ |psi|^2 (weight) or uniformly")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes, one run each (default: 2)")  # fmt: skip
    parser.add_argument("--root", default="data",
                        help="cache of ground states and datasets (default: data)")
    parser.add_argument("--out", type=Path, default=Path("outputs/magnetic_signs"),
                        help="output folder (default: outputs/magnetic_signs)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--from-results", type=Path, default=None,
                        help="reprint the tables and redraw the plots of a results.json")
    args = parser.parse_args(argv)
    if args.from_results is not None:
        report(json.loads(args.from_results.read_text())["results"], args.out)
        return
    quick = args.quick
    preset = SETTINGS["quick" if quick else "default"]
    shape = tuple(args.shape or preset["shape"])
    j2s = args.j2 or preset["j2"]
    fractions = args.fractions or preset["fractions"]
    seeds = args.seeds or preset["seeds"]
    restarts = args.restarts or preset["restarts"]
    target = preset["target_accuracy"] if args.target_accuracy is None else args.target_accuracy
    target = None if target == "none" else target
    steps = args.steps or preset["steps"]
    for name, value in (("--seeds", seeds), ("--steps", steps), ("--workers", args.workers),
                        ("--test-states", args.test_states), ("--restarts", restarts)):  # fmt: skip
        if value < 1:
            parser.error(f"{name} must be >= 1, got {value}")
    if args.first_seed < 0:
        parser.error(f"--first-seed must be >= 0, got {args.first_seed}")
    args.out.mkdir(parents=True, exist_ok=True)
    models = list(dict.fromkeys(args.models or preset["models"]))
    progress = None if not args.quiet else False
    begin = time.perf_counter()

    seed_list = list(range(args.first_seed, args.first_seed + seeds))
    print(f"J1-J2 Heisenberg, periodic {shape[0]}x{shape[1]}, S^z = 0; seeds "
          f"{seed_list[0]}..{seed_list[-1]}, each the best of at most {restarts} runs on "
          f"validation orbits{f' (restarted until one reaches {target})' if target else ''}; "
          f"{steps} steps of {args.batch_size} states drawn "
          f"{'~ |psi|^2' if args.sampling == 'weight' else 'uniformly'} from the training set")
    print(f"{'J2':>5} {'E0':>12} {'gap':>8} {'Marshall |psi|^2':>17}  symmetry eigenvalues")
    for j2 in j2s:
        gs = heisenberg_ground_state(shape, j2=j2, root=args.root, progress=progress)
        marshall = float(gs.probabilities[gs.signs == marshall_sign(gs.states, shape)].sum())
        sym = " ".join(f"{k} {v:+.3f}" for k, v in symmetry_report(gs).items())
        print(f"{j2:>5g} {gs.energy:>12.6f} {gs.gap:>8.4f} {marshall:>17.6f}  {sym}", flush=True)
        for eps in fractions:  # datasets made here once, not raced for by the workers
            for seed in seed_list:
                for rotated in {m == "marshall" for m in models}:
                    for split in ("train", "test", "unseen"):
                        HeisenbergSigns(args.root, shape, j2=j2, fraction=eps, seed=seed,
                                        split=split, holdout="orbit", marshall_rotated=rotated,
                                        progress=False)  # fmt: skip

    settings = {"shape": list(shape), "root": args.root, "hidden": args.hidden,
                "dilations": args.dilations, "steps": steps, "batch_size": args.batch_size,
                "lr": args.lr, "mlp_lr": args.mlp_lr, "test_states": args.test_states,
                "sampling": args.sampling, "restarts": restarts,
                "target_accuracy": target}  # fmt: skip
    jobs = [{"j2": j2, "fraction": eps, "seed": seed, "model": m, "args": settings}
            for j2 in j2s for eps in fractions for seed in seed_list for m in models]
    results = []
    bar = tqdm(total=len(jobs), desc="train and score", unit="model", file=sys.stderr,
               disable=True if args.quiet else None)  # fmt: skip
    if args.workers == 1:
        for job in jobs:
            results.append(run_one(job))
            bar.update()
    else:
        with mp.get_context("spawn").Pool(args.workers) as pool:
            for r in pool.imap_unordered(run_one, jobs):
                results.append(r)
                bar.update()
    bar.close()
    (args.out / "results.json").write_text(json.dumps({"results": results,
                                                       "settings": settings}, indent=1))
    report(results, args.out, args.test_states, quick)
    print(f"\nwall time {time.perf_counter() - begin:.1f} s; results and plots in {args.out}")


if __name__ == "__main__":
    main()
