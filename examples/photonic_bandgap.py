"""Photonic band gaps from few examples: invariant multiscale networks against plain ones.

Random two-phase unit cells of 2-D photonic crystals (:class:`sgnn.data.PhotonicCrystals`:
level sets of smooth random periodic fields, dielectric permittivity in [1, 20], in air)
are labelled by the plane-wave-expansion solver of :mod:`sgnn.photonics` with their TM
gap--midgap ratio between bands 1 and 2 (0 for the cells without a gap). Four models of
nearly equal parameter count (:func:`sgnn.tasks.bandgap_model`) learn it from training
sets of growing size:

* ``dilated`` -- the invariant multiscale model: periodic dilated ``LatticeConv`` layers
  (dilations 1, 2, 4, 8) and mean pooling, invariant under the translations of the
  periodic cell and the symmetries of the square;
* ``plain``   -- the same with every dilation 1 (invariant, but local);
* ``cnn``     -- a zero-padded CNN with a flattened readout (neither invariant);
* ``mlp``     -- an MLP on the flattened cell.

The tables give, on a fixed test set of unseen cells, the mean absolute error of the
gap--midgap ratio, the relative error on the cells that have a gap and the fraction of
cells whose gap / no-gap is classified right (a predicted ratio above 0.01 counts as a
gap), mean ± std over seeds. Figures go to ``--out``: the error against the training-set
size, and example cells with their true and predicted gaps.

Usage: ``python examples/photonic_bandgap.py [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import mse_loss
from torch_geometric import seed_everything
from torch_geometric.loader import DataLoader

from sgnn.data import PhotonicCrystals
from sgnn.tasks import BANDGAP_MODELS, bandgap_model, bandgap_transform
from sgnn.train import fit

#: A predicted ratio above this counts as a gap.
GAP_THRESHOLD = 0.01


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=BANDGAP_MODELS, default=list(BANDGAP_MODELS))
    parser.add_argument("--train-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--test-cells", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=None, help="training seeds per cell")
    parser.add_argument("--side", type=int, default=None, help="pixels per side of a cell")
    parser.add_argument("--cutoff", type=float, default=None,
                        help="plane-wave cutoff of the solver (below side / 4)")
    parser.add_argument("--steps", type=int, default=None,
                        help="gradient steps per training run (at least 20 epochs)")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=None, help="cells per step")
    parser.add_argument("--workers", type=int, default=None, help="solver processes")
    parser.add_argument("--out", type=Path, default=Path("outputs/photonic_bandgap"))
    parser.add_argument("--quick", action="store_true", help="a one-minute run")
    args = parser.parse_args()
    defaults = {
        "train_sizes": [32, 128] if args.quick else [64, 128, 256, 512, 1024],
        "test_cells": 200 if args.quick else 1000,
        "seeds": 2 if args.quick else 3,
        # 16 x 16 cells with 29 plane waves: the rod lattice's TM gap is then 0.3132
        # (converged 0.314), and a training run is four times cheaper than at 32 x 32
        "side": 16,
        "cutoff": 3.0,
        "steps": 200 if args.quick else 600,
        # half the work per step in quick mode: a smoke run, not a comparison
        "batch_size": 16 if args.quick else 32,
        # worker processes take seconds to start: the small quick datasets solve in-process
        "workers": 0 if args.quick else None,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def predict(model: torch.nn.Module, loader: DataLoader) -> Tensor:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(batch).view(-1) for batch in loader]).clamp(min=0)


def scores(pred: Tensor, true: Tensor) -> dict[str, float]:
    gap = true > 0
    return {
        "MAE": float((pred - true).abs().mean()),
        "rel. error (gap)": float(((pred - true).abs() / true)[gap].mean()),
        "gap / no gap": float(((pred > GAP_THRESHOLD) == gap).double().mean()),
    }


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    transform = bandgap_transform()

    def cells(count: int, seed: int) -> PhotonicCrystals:
        return PhotonicCrystals(str(args.out / "data"), count, side=args.side, seed=seed,
                                cutoff=args.cutoff, num_workers=args.workers,
                                transform=transform, log=True)  # fmt: skip

    log("phase 1/3: band structures of the cells")
    # Disjoint seeds: the training pool (the first N cells of one seed, so a larger set
    # holds every smaller one), validation and test.
    pool = cells(max(args.train_sizes), 0)
    val = cells(max(64, args.test_cells // 5), 1)
    test = cells(args.test_cells, 2)
    true = torch.cat([g.y for g in test])
    log(f"data ready in {time.perf_counter() - tic:.0f} s; {float((true > 0).double().mean()):.0%} "
        "of the test cells have a TM gap between bands 1 and 2")  # fmt: skip

    log("phase 2/3: training")
    results: dict[str, dict[int, list[dict[str, float]]]] = {m: {} for m in args.models}
    params: dict[str, int] = {}
    examples: dict[str, Tensor] = {}
    test_loader = DataLoader(test, batch_size=256)
    for size in args.train_sizes:
        train = pool[:size]
        epochs = max(20, -(-args.steps * args.batch_size // size))
        for name in args.models:
            for seed in range(args.seeds):
                seed_everything(seed)
                model = bandgap_model(name, args.side, args.hidden)
                params[name] = sum(p.numel() for p in model.parameters())
                # the weights of the best of ~10 validations are kept (validation cells
                # only; the test cells are never seen before the final score)
                fit(model, lambda m, b: mse_loss(m(b).view(-1), b.y),
                    DataLoader(train, args.batch_size, shuffle=True),
                    DataLoader(val, 256), epochs=epochs, lr=args.lr, patience=None,
                    val_every=max(1, epochs // 10), progress=None,
                    desc=f"{name} N={size} seed {seed}")  # fmt: skip
                pred = predict(model, test_loader)
                results[name].setdefault(size, []).append(scores(pred, true))
                if size == max(args.train_sizes) and seed == 0:
                    examples[name] = pred
        log(f"N = {size} done ({time.perf_counter() - tic:.0f} s)")

    log("phase 3/3: tables and figures")
    print_tables(args, results, params)
    plot(args, results, test, true, examples)
    print(f"\ntotal {time.perf_counter() - tic:.0f} s")


def mean_std(values: list[float]) -> str:
    v = np.asarray(values)
    return f"{v.mean():.3f} ± {v.std(ddof=1) if v.size > 1 else 0.0:.3f}"


def print_tables(args: argparse.Namespace, results: dict, params: dict) -> None:
    for metric in ("MAE", "rel. error (gap)", "gap / no gap"):
        print(f"\n{metric} on {args.test_cells} unseen cells, mean ± std over {args.seeds} "
              f"seeds, by training-set size")  # fmt: skip
        print(f"{'model':<9}{'params':>8}" + "".join(f"{f'N={n}':>16}" for n in args.train_sizes))
        for name, per_size in results.items():
            cells = "".join(f"{mean_std([r[metric] for r in per_size[n]]):>16}"
                            for n in args.train_sizes)  # fmt: skip
            print(f"{name:<9}{params[name]:>8}{cells}")
    smallest = args.train_sizes[0]
    mae = {name: np.array([r["MAE"] for r in per_size[smallest]])
           for name, per_size in results.items()}  # fmt: skip
    if "dilated" in mae:
        for other in (n for n in mae if n != "dilated"):
            gap = mae[other].mean() - mae["dilated"].mean()
            spread = max(mae[other].std(ddof=1), mae["dilated"].std(ddof=1))
            verdict = "ahead by more than the seed spread" if gap > spread else (
                "ahead, within the seed spread" if gap > 0 else "not ahead")  # fmt: skip
            print(f"N = {smallest}: dilated vs {other}: MAE {mae['dilated'].mean():.3f} vs "
                  f"{mae[other].mean():.3f}, {verdict} (spread {spread:.3f})")
    if args.quick:
        print("(quick mode: small training sets, two seeds and short trainings; the default "
              "run is the measurement)")  # fmt: skip


def plot(args: argparse.Namespace, results: dict, test: PhotonicCrystals, true: Tensor,
         examples: dict) -> None:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, per_size in results.items():
        values = [np.array([r["MAE"] for r in per_size[n]]) for n in args.train_sizes]
        ax.errorbar(args.train_sizes, [v.mean() for v in values],
                    yerr=[v.std(ddof=1) if v.size > 1 else 0 for v in values], marker="o",
                    capsize=3, label=name)  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training cells")
    ax.set_ylabel("test MAE of the gap-midgap ratio")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "mae_vs_training_size.png", dpi=120)
    plt.close(fig)

    order = torch.argsort(true, descending=True)
    picks = [int(i) for i in torch.cat([order[:3], order[-3:]])]
    fig, axes = plt.subplots(1, len(picks), figsize=(2.6 * len(picks), 3.2))
    for ax, i in zip(axes, picks, strict=True):
        ax.imshow(test[i].x.view(args.side, args.side).numpy(), cmap="viridis")
        text = f"true {float(true[i]):.3f}"
        for name, pred in examples.items():
            text += f"\n{name} {float(pred[i]):.3f}"
        ax.set_title(text, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"TM gap-midgap ratio, bands 1-2 (models trained on "
                 f"{max(args.train_sizes)} cells)")  # fmt: skip
    fig.tight_layout()
    fig.savefig(args.out / "example_cells.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
