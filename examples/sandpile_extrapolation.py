"""Train small, predict large: avalanche footprints (or hazard maps) of the BTW sandpile.

Models are trained on small lattices (default L = 16, 32) and evaluated on
fresh configurations of every size up to L = 256:

* ``RGNet exact`` -- coarse-graining equivariant, one block shared by all levels;
* ``RGNet unet``  -- the same with a fine-to-coarse pass (not exactly equivariant);
* ``local``       -- a fixed-depth stack of LatticeConv layers (an ordinary GNN);
* ``dilated``     -- LatticeConv layers with dilations 1, 2, 4, 8 (a fixed number);
* ``heuristic``   -- no learning: the drop site's connected cluster of height-3
  sites topples (footprint), or the size of the height-3 cluster a site belongs
  to (hazard).

``--target footprint`` prints, per model and lattice size, the mean
per-avalanche IoU of the toppled set and the mean absolute error of
log(1 + avalanche size); ``--target hazard`` prints the Spearman correlation
between predicted and true hazard per configuration and the recall of the
top-1% most dangerous sites. Plots go to ``--out``.

Usage: ``python examples/sandpile_extrapolation.py [--target hazard] [--quick]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor, nn
from torch_geometric import seed_everything
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from sgnn.data import SandpileAvalanches
from sgnn.train import (
    MixedSizeLoader,
    evaluate,
    fit,
    predicted_avalanche_size,
    sandpile_loss,
    sandpile_metrics,
    sandpile_model,
    sandpile_transform,
)

#: Table names of the models of sgnn.train.sandpile_model.
MODELS = {"RGNet exact": "rgnet-exact", "RGNet unet": "rgnet-unet", "local": "local",
          "dilated": "dilated"}  # fmt: skip


def heuristic(batch: Data, target: str) -> Tensor:
    """No learning: height-3 clusters (4-connected) around the drop site or each site."""
    outs = []
    for data in batch.to_data_list():
        h, w = (int(v) for v in data.lattice_shape.view(-1))
        z = data.x[:, :4].argmax(1).reshape(h, w).numpy()
        labels, _ = ndimage.label(z == 3)
        sizes = np.bincount(labels.reshape(-1))
        sizes[0] = 0
        if target == "hazard":
            outs.append(torch.log1p(torch.from_numpy(sizes[labels].reshape(-1)).float())[:, None])
            continue
        site = int(data.x[:, 5].argmax())
        mask = labels.reshape(-1) == labels.reshape(-1)[site]
        logit = torch.from_numpy(np.where(mask, 1.0, -1.0)).float()
        outs.append(torch.stack([logit, torch.from_numpy(mask.astype(np.float32)) * np.log(2)],
                                dim=1))  # each cluster site topples once  # fmt: skip
    return torch.cat(outs)


# ------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("footprint", "hazard"), default="footprint")
    parser.add_argument("--train-sizes", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--eval-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--train-samples", type=int, default=1500, help="per training size")
    parser.add_argument("--eval-samples", type=int, default=100, help="per evaluation size")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--patience", type=int, default=4, help="early-stopping patience")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("outputs/sandpile_extrapolation"))
    parser.add_argument("--quick", action="store_true", help="tiny run for tests")
    args = parser.parse_args()
    if args.eval_sizes is None:
        args.eval_sizes = [16, 32, 64, 128, 256] if args.target == "footprint" else [64, 128]
    if args.quick:
        args.train_sizes, args.train_samples, args.eval_samples, args.epochs = [8, 16], 64, 8, 2
        args.eval_sizes = [16, 32]
    args.out.mkdir(parents=True, exist_ok=True)
    seed_everything(args.seed)
    tic = time.perf_counter()

    def dataset(size: int, samples: int, seed: int) -> SandpileAvalanches:
        return SandpileAvalanches(str(args.out / "data"), size, samples, args.target, seed,
                                  pre_transform=sandpile_transform(), num_workers=args.workers,
                                  log=False)  # fmt: skip

    # Training and validation seeds differ from every evaluation seed (10_000 + L).
    sizes = list(enumerate(args.train_sizes))
    train = MixedSizeLoader([DataLoader(dataset(L, args.train_samples, 1 + k), args.batch_size,
                                        shuffle=True) for k, L in sizes], args.seed)  # fmt: skip
    val = MixedSizeLoader([DataLoader(dataset(L, max(4, args.train_samples // 10), 100 + k),
                                      args.batch_size) for k, L in sizes], args.seed)  # fmt: skip
    evals = {L: DataLoader(dataset(L, args.eval_samples, 10_000 + L), 4) for L in args.eval_sizes}
    print(f"data ready in {time.perf_counter() - tic:.0f} s")

    results: dict[str, dict[int, dict[str, float]]] = {}
    params: dict[str, int] = {}
    models: dict[str, nn.Module] = {}
    for name, key in MODELS.items():
        seed_everything(args.seed)
        model = models[name] = sandpile_model(key, args.target, args.hidden)
        start = time.perf_counter()
        history = fit(model, sandpile_loss(args.target), train, val, epochs=args.epochs,
                      lr=args.lr, patience=args.patience, progress=False)  # fmt: skip
        params[name] = sum(p.numel() for p in model.parameters())
        model.eval()
        results[name] = {L: evaluate(model, loader, sandpile_metrics(args.target))
                         for L, loader in evals.items()}  # fmt: skip
        print(f"{name}: {params[name]} parameters, best epoch {history.best_epoch}, "
              f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    results["heuristic"] = {
        L: evaluate(nn.Identity(), loader,
                    sandpile_metrics(args.target, lambda b: heuristic(b, args.target)))
        for L, loader in evals.items()
    }
    params["heuristic"] = 0
    print_table(results, params, args.eval_sizes)
    plot(results, args, models, evals)
    print(f"total {time.perf_counter() - tic:.0f} s; plots in {args.out}")


def print_table(results: dict, params: dict, sizes: list[int]) -> None:
    names = list(next(iter(results.values()))[sizes[0]])
    header = f"{'model':<13}{'params':>8}" + "".join(f"{f'L={L}':>20}" for L in sizes)
    print("\ncells: " + " / ".join(names))
    print(header)
    print("-" * len(header))
    for model, per_size in results.items():
        cells = "".join(f"{' / '.join(f'{per_size[L][m]:.3f}' for m in names):>20}"
                        for L in sizes)  # fmt: skip
        print(f"{model:<13}{params[model]:>8}{cells}")


def plot(results: dict, args: argparse.Namespace, models: dict, evals: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = args.eval_sizes
    names = list(next(iter(results.values()))[sizes[0]])
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4))
    for ax, metric in zip(np.atleast_1d(axes), names, strict=True):
        for model, per_size in results.items():
            ax.plot(sizes, [per_size[L][metric] for L in sizes], "o-", label=model)
        ax.set(xscale="log", xlabel="lattice side L", ylabel=metric, xticks=sizes,
               xticklabels=[str(L) for L in sizes])  # fmt: skip
        for L in args.train_sizes:
            ax.axvline(L, color="0.85", zorder=0)
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / f"{args.target}_vs_size.png", dpi=110)
    if args.target != "footprint":
        return
    largest = max(sizes)
    batch = next(iter(DataLoader(evals[largest].dataset[:1], batch_size=1)))
    model = models["RGNet exact"]
    with torch.no_grad():
        pred = model(batch)[:, 0] > 0
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
    for ax, mask, title in ((axes[0], batch.toppled > 0, "simulated"),
                            (axes[1], pred, "RGNet exact")):  # fmt: skip
        ax.imshow(mask.reshape(largest, largest).numpy(), cmap="magma")
        ax.set_title(f"{title} footprint, L = {largest}")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(args.out / "footprint_example.png", dpi=110)
    true_sizes, pred_sizes = [], []
    with torch.no_grad():
        for batch in evals[largest]:
            true_sizes.append(batch.avalanche_size.float())
            pred_sizes.append(predicted_avalanche_size(model(batch), batch))
    fig, ax = plt.subplots(figsize=(5, 4))
    for values, label in ((torch.cat(true_sizes), "simulated"),
                          (torch.cat(pred_sizes), "RGNet exact")):  # fmt: skip
        v = values.numpy()
        v = v[v > 0]
        if v.size:
            bins = np.logspace(0, np.log10(v.max() + 1), 20)
            ax.hist(v, bins=bins, histtype="step", density=True, label=label)
    ax.set(xscale="log", yscale="log", xlabel="avalanche size", ylabel="density",
           title=f"L = {largest}")  # fmt: skip
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "size_distribution.png", dpi=110)


if __name__ == "__main__":
    main()
