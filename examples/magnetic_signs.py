"""Learn the sign structure of a frustrated magnet from a small fraction of its basis.

The ground state psi of the spin-1/2 J1-J2 Heisenberg antiferromagnet on a periodic cluster
(6 x 4 spins by default; exact diagonalisation, cached) is written in the S^z basis. Each
model sees a basis state sigma as a spin image on the periodic lattice and predicts
sign psi(sigma); it is trained on a fraction eps of the basis drawn ~ |psi|^2 and scored on
unseen states, by sign accuracy weighted by |psi|^2 and unweighted. Models with about the
same number of parameters: an invariant stack of dilated LatticeConvs with global pooling,
the same stack without dilations, and an MLP on the flattened spins; optionally the
dilated stack on the Marshall-rotated sign.

    python examples/magnetic_signs.py --quick      # 4 x 4, two couplings, one fraction
    python examples/magnetic_signs.py              # the 6 x 4 grid of the tutorial
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
from sgnn.tasks import sign_accuracy, sign_logits, sign_model, train_sign_model

MODELS = ("dilated", "plain", "mlp")
LABELS = {"dilated": "dilated", "plain": "plain", "mlp": "MLP", "marshall": "dilated·Marshall"}


def symmetry_report(gs) -> dict[str, float]:
    """<psi|P|psi> for unit translations and the two axis reflections: +1 means an
    invariant model can represent the signs."""
    h, w = gs.shape
    r, c = np.divmod(np.arange(h * w), w)
    perms = {"T_row": lattice_translation(gs.shape, (1, 0)),
             "T_col": lattice_translation(gs.shape, (0, 1)),
             "R_row": ((-r) % h) * w + c, "R_col": r * w + (-c) % w}  # fmt: skip
    return {k: symmetry_eigenvalue(gs, p) for k, p in perms.items()}


def test_states(gs, train_state: np.ndarray, count: int, seed: int,
                ) -> tuple[np.ndarray, np.ndarray, bool]:  # fmt: skip
    """Indices of unseen states to score on: all of them when there are at most ``count``,
    else ``count`` drawn ~ |psi|^2 (weighted accuracy = their plain mean) and ``count``
    drawn uniformly (unweighted accuracy)."""
    unseen = np.ones(len(gs.states), dtype=bool)
    unseen[np.searchsorted(gs.states, train_state)] = False
    index = np.flatnonzero(unseen)
    if len(index) <= count:
        return index, index, True
    rng = np.random.default_rng([seed, 0x7E57])
    p = gs.probabilities[index]
    weighted = rng.choice(index, size=count, p=p / p.sum())
    uniform = rng.choice(index, size=count, replace=False)
    return weighted, uniform, False


def run_one(job: dict) -> dict:
    """Train one model on one (J2, eps, seed) and score it on unseen states."""
    torch.set_num_threads(1)
    a = job["args"]
    shape = tuple(a["shape"])
    gs = heisenberg_ground_state(shape, j2=job["j2"], root=a["root"], progress=False)
    rotated = job["model"] == "marshall"
    train = HeisenbergSigns(a["root"], shape, j2=job["j2"], fraction=job["fraction"],
                            seed=job["seed"], marshall_rotated=rotated, progress=False)  # fmt: skip
    name = "dilated" if rotated else job["model"]
    dilations = tuple(a["dilations"])
    torch.manual_seed(job["seed"])
    model = sign_model(name, gs.num_sites, a["hidden"], dilations)
    lr = a["mlp_lr"] if name == "mlp" else a["lr"]
    start = time.perf_counter()
    losses = train_sign_model(model, train, steps=a["steps"], batch_size=a["batch_size"], lr=lr,
                              dilations=dilations, seed=job["seed"], sampling=a["sampling"],
                              progress=False)  # fmt: skip
    seconds = time.perf_counter() - start
    weighted, uniform, exact = test_states(gs, train.state.numpy(), a["test_states"], job["seed"])
    target = gs.signs * (marshall_sign(gs.states, shape) if rotated else 1)
    scores = []
    for index in (weighted, uniform):
        spins = torch.from_numpy(gs.spins(index).reshape(len(index), -1))
        logits = sign_logits(model, spins, shape, dilations)
        sign = torch.from_numpy(target[index])
        # Drawn ~ |psi|^2, the weighted accuracy is the plain mean over the draw.
        w = torch.from_numpy(gs.probabilities[index] if exact else np.ones(len(index)))
        scores.append(sign_accuracy(logits, sign, w))
    return {**{k: job[k] for k in ("j2", "fraction", "seed", "model")},
            "weighted": scores[0][0], "unweighted": scores[1][1], "exact": exact,
            "train_states": len(train), "params": sum(p.numel() for p in model.parameters()),
            "final_loss": float(np.mean(losses[-50:])), "seconds": seconds}


def summarise(results: list[dict], j2s, fractions, models) -> list[dict]:
    rows = []
    for j2 in j2s:
        for eps in fractions:
            row = {"j2": j2, "fraction": eps}
            for m in models:
                rs = [r for r in results if r["j2"] == j2 and r["fraction"] == eps
                      and r["model"] == m]  # fmt: skip
                for key in ("weighted", "unweighted"):
                    v = np.array([r[key] for r in rs])
                    row[f"{m}_{key}"] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1
                                         else 0.0, len(v))  # fmt: skip
                # Model selection without test data: the restart that fits its training
                # set best (a failed optimisation leaves the loss far higher).
                best = min(rs, key=lambda r: r["final_loss"])
                row[f"{m}_selected"] = (best["weighted"], 0.0, len(rs))
            rows.append(row)
    return rows


def print_table(rows: list[dict], models, key: str) -> None:
    head = f"{'J2':>5} {'eps':>6}" + "".join(f" {LABELS[m]:>17}" for m in models)
    print(f"\n{key} sign accuracy on unseen states, mean +- std over seeds" if key != "selected"
          else "\nweighted sign accuracy of the restart with the lowest training loss")
    claim = all(m in models for m in MODELS)  # the seed paper's ordering, when all ran
    print(head + ("   dilated>=plain>=MLP" if claim else ""))
    for row in rows:
        cells = "".join(f"  {row[f'{m}_{key}'][0]:.4f} +- {row[f'{m}_{key}'][1]:.4f}"
                        if key != "selected" else f" {row[f'{m}_{key}'][0]:>17.4f}"
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


def report(results: list[dict], out: Path, test_states: int | None = None) -> None:
    """The tables of ``results`` and the two plots in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    j2s = sorted({r["j2"] for r in results})
    fractions = sorted({r["fraction"] for r in results}, reverse=True)
    models = [m for m in [*MODELS, "marshall"] if any(r["model"] == m for r in results)]
    rows = summarise(results, j2s, fractions, models)
    params = {m: next(r["params"] for r in results if r["model"] == m) for m in models}
    print("\nparameters: " + ", ".join(f"{LABELS[m]} {params[m]}" for m in models))
    exact = all(r["exact"] for r in results)
    print("scored on " + ("every unseen state" if exact else
                          f"{test_states or 'N'} unseen states drawn ~ |psi|^2 (weighted) and "
                          f"as many drawn uniformly (unweighted) per model"))  # fmt: skip
    for key in ("weighted", "unweighted", "selected"):
        print_table(rows, models, key)
    train_sizes = sorted({(r["fraction"], r["train_states"]) for r in results})
    print("\ntraining states: " + ", ".join(f"eps {e:g}: {n}" for e, n in train_sizes))
    print("mean training time per model: " + ", ".join(
        f"{LABELS[m]} {np.mean([r['seconds'] for r in results if r['model'] == m]):.1f} s"
        for m in models))  # fmt: skip
    plot(rows, models, j2s, fractions, out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 x 4, J2 in {0, 0.5}, eps 0.1")
    parser.add_argument("--shape", type=int, nargs=2, default=None, metavar=("H", "W"))
    parser.add_argument("--j2", type=float, nargs="+", default=None)
    parser.add_argument("--fractions", type=float, nargs="+", default=None)
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3, help="of the lattice models")
    parser.add_argument("--mlp-lr", type=float, default=1e-2)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--dilations", type=int, nargs="+", default=[1, 2, 3, 1])
    parser.add_argument("--test-states", type=int, default=30000,
                        help="score on all unseen states up to this many, else on draws")
    parser.add_argument("--models", nargs="+", default=list(MODELS),
                        choices=[*MODELS, "marshall"],
                        help="'marshall': the dilated model on the Marshall-rotated sign")
    parser.add_argument("--sampling", choices=["weight", "uniform"], default="weight",
                        help="minibatch states ~ |psi|^2 (weight) or uniformly")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", default="data", help="cache of ground states and datasets")
    parser.add_argument("--out", type=Path, default=Path("outputs/magnetic_signs"))
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--from-results", type=Path, default=None,
                        help="reprint the tables and redraw the plots of a results.json")
    args = parser.parse_args(argv)
    if args.from_results is not None:
        report(json.loads(args.from_results.read_text())["results"], args.out)
        return
    quick = args.quick
    shape = tuple(args.shape or ((4, 4) if quick else (6, 4)))
    j2s = args.j2 or ([0.0, 0.5] if quick else [0.0, 0.3, 0.5, 0.55, 0.6, 0.8])
    fractions = args.fractions or ([0.1] if quick else [1e-1, 1e-2, 1e-3])
    seeds = args.seeds or (2 if quick else 3)
    steps = args.steps or (400 if quick else 2000)
    for name, value in (("--seeds", seeds), ("--steps", steps), ("--workers", args.workers),
                        ("--test-states", args.test_states)):  # fmt: skip
        if value < 1:
            parser.error(f"{name} must be >= 1, got {value}")
    args.out.mkdir(parents=True, exist_ok=True)
    models = list(dict.fromkeys(args.models))
    progress = None if not args.quiet else False
    begin = time.perf_counter()

    print(f"J1-J2 Heisenberg, periodic {shape[0]}x{shape[1]}, S^z = 0; {seeds} seeds, "
          f"{steps} steps of {args.batch_size} states drawn "
          f"{'~ |psi|^2' if args.sampling == 'weight' else 'uniformly'} from the training set")
    print(f"{'J2':>5} {'E0':>12} {'gap':>8} {'Marshall |psi|^2':>17}  symmetry eigenvalues")
    for j2 in j2s:
        gs = heisenberg_ground_state(shape, j2=j2, root=args.root, progress=progress)
        marshall = float(gs.probabilities[gs.signs == marshall_sign(gs.states, shape)].sum())
        sym = " ".join(f"{k} {v:+.3f}" for k, v in symmetry_report(gs).items())
        print(f"{j2:>5g} {gs.energy:>12.6f} {gs.gap:>8.4f} {marshall:>17.6f}  {sym}", flush=True)
        for eps in fractions:  # datasets made here once, not raced for by the workers
            for seed in range(seeds):
                for rotated in {m == "marshall" for m in models}:
                    HeisenbergSigns(args.root, shape, j2=j2, fraction=eps, seed=seed,
                                    marshall_rotated=rotated, progress=False)  # fmt: skip

    settings = {"shape": list(shape), "root": args.root, "hidden": args.hidden,
                "dilations": args.dilations, "steps": steps, "batch_size": args.batch_size,
                "lr": args.lr, "mlp_lr": args.mlp_lr, "test_states": args.test_states,
                "sampling": args.sampling}  # fmt: skip
    jobs = [{"j2": j2, "fraction": eps, "seed": seed, "model": m, "args": settings}
            for j2 in j2s for eps in fractions for seed in range(seeds) for m in models]
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
    report(results, args.out, args.test_states)
    print(f"\nwall time {time.perf_counter() - begin:.1f} s; results and plots in {args.out}")


if __name__ == "__main__":
    main()
