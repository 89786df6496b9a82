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
import random
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor, nn
from torch_geometric import seed_everything
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from sgnn.data import AddHierarchy, SandpileAvalanches, lattice_graph
from sgnn.nn import LatticeConv, RGNet
from sgnn.train import (
    evaluate,
    fit,
    footprint_iou,
    spearman_per_graph,
    top_fraction_recall,
)

DILATIONS = (1, 2, 4, 8)


class AddDilatedEdges:
    """Adds ``dilated_edge_index_d`` for every dilation (PyG offsets keys containing 'index')."""

    def __call__(self, data: Data) -> Data:
        out = data.clone()
        shape = tuple(int(v) for v in data.lattice_shape.view(-1))
        for d in DILATIONS:
            out[f"dilated_edge_index_{d}"] = lattice_graph(shape, dilation=d)[0]
        return out

    def __repr__(self) -> str:
        return f"AddDilatedEdges({DILATIONS})"


class Prepare:
    """The pre-transform of every dataset: hierarchy and dilated edges."""

    def __init__(self) -> None:
        self.hierarchy, self.dilated = AddHierarchy(), AddDilatedEdges()

    def __call__(self, data: Data) -> Data:
        return self.dilated(self.hierarchy(data))

    def __repr__(self) -> str:
        return "Prepare(AddHierarchy(), AddDilatedEdges)"


class LatticeStack(nn.Module):
    """Encoder, residual LatticeConv layers (each with its dilation), and a node head."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int,
                 dilations: list[int]) -> None:  # fmt: skip
        super().__init__()
        self.dilations = dilations
        self.encoder = nn.Sequential(nn.Linear(in_channels, hidden), nn.SiLU())
        self.convs = nn.ModuleList(LatticeConv(hidden, hidden) for _ in dilations)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(),
                                  nn.Linear(hidden, out_channels))  # fmt: skip

    def forward(self, data: Data) -> Tensor:
        h = self.encoder(data.x)
        for d, conv in zip(self.dilations, self.convs, strict=True):
            h = h + torch.nn.functional.silu(conv(h, data[f"dilated_edge_index_{d}"]))
        return self.head(h)


def build_models(in_channels: int, out_channels: int, hidden: int) -> dict[str, nn.Module]:
    # Comparable sizes: each model's parameter count is printed with the table.
    return {
        "RGNet exact": RGNet(in_channels, hidden, out_channels, mode="exact", depth=2),
        "RGNet unet": RGNet(in_channels, hidden, out_channels, mode="unet", depth=1),
        "local": LatticeStack(in_channels, hidden, out_channels, [1] * 4),
        "dilated": LatticeStack(in_channels, hidden, out_channels, list(DILATIONS)),
    }


class MixedSizes:
    """Batches from several same-size loaders, in a fresh random order every epoch."""

    def __init__(self, loaders: list[DataLoader], seed: int) -> None:
        self.loaders, self.rng = loaders, random.Random(seed)

    def __iter__(self) -> Iterator[Data]:
        batches = [b for loader in self.loaders for b in loader]
        self.rng.shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        return sum(len(loader) for loader in self.loaders)


# ----------------------------------------------------------------------------- targets
def footprint_loss(model: nn.Module, batch: Data) -> Tensor:
    out = model(batch)
    bce = nn.functional.binary_cross_entropy_with_logits(out[:, 0], batch.toppled)
    mse = nn.functional.mse_loss(out[:, 1], torch.log1p(batch.topplings.float()))
    return bce + mse


def hazard_loss(model: nn.Module, batch: Data) -> Tensor:
    return nn.functional.mse_loss(model(batch)[:, 0], batch.hazard)


def predicted_size(out: Tensor, batch: Data) -> Tensor:
    counts = torch.expm1(out[:, 1].clamp(min=0)) * (out[:, 0] > 0)
    return torch.zeros(batch.num_graphs).index_add_(0, batch.batch, counts)


def footprint_metrics(predict) -> dict:
    """Metrics of a predictor ``predict(batch) -> (N, 2)`` (logit, log count)."""

    def iou(model: nn.Module, batch: Data) -> Tensor:
        return footprint_iou(predict(batch)[:, 0] > 0, batch.toppled > 0, batch.batch)

    def size_error(model: nn.Module, batch: Data) -> Tensor:
        est = predicted_size(predict(batch), batch)
        return (torch.log1p(est) - torch.log1p(batch.avalanche_size.float())).abs()

    return {"IoU": iou, "|dlog(1+s)|": size_error}


def hazard_metrics(predict) -> dict:
    def spearman(model: nn.Module, batch: Data) -> Tensor:
        return spearman_per_graph(predict(batch)[:, 0], batch.hazard, batch.batch)

    def recall(model: nn.Module, batch: Data) -> Tensor:
        return top_fraction_recall(predict(batch)[:, 0], batch.hazard, batch.batch, 0.01)

    return {"Spearman": spearman, "top-1% recall": recall}


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
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
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
                                  pre_transform=Prepare(), num_workers=args.workers,
                                  log=False)  # fmt: skip

    # Training and validation seeds differ from every evaluation seed (10_000 + L).
    train = MixedSizes([DataLoader(dataset(L, args.train_samples, 1 + k), args.batch_size,
                                   shuffle=True) for k, L in enumerate(args.train_sizes)],
                       args.seed)  # fmt: skip
    val = MixedSizes([DataLoader(dataset(L, max(4, args.train_samples // 10), 100 + k),
                                 args.batch_size) for k, L in enumerate(args.train_sizes)],
                     args.seed)  # fmt: skip
    evals = {L: DataLoader(dataset(L, args.eval_samples, 10_000 + L), 4) for L in args.eval_sizes}
    print(f"data ready in {time.perf_counter() - tic:.0f} s")

    footprint = args.target == "footprint"
    in_channels = 6 if footprint else 5
    loss_fn = footprint_loss if footprint else hazard_loss
    metrics_of = footprint_metrics if footprint else hazard_metrics
    results: dict[str, dict[int, dict[str, float]]] = {}
    params: dict[str, int] = {}
    models = build_models(in_channels, 2 if footprint else 1, args.hidden)
    for name, model in models.items():
        seed_everything(args.seed)
        start = time.perf_counter()
        history = fit(model, loss_fn, train, val, epochs=args.epochs, lr=args.lr, patience=4,
                      progress=False)  # fmt: skip
        params[name] = sum(p.numel() for p in model.parameters())
        model.eval()
        results[name] = {L: evaluate(model, loader, metrics_of(model)) for L, loader in
                         evals.items()}  # fmt: skip
        print(f"{name}: {params[name]} parameters, best epoch {history.best_epoch}, "
              f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    results["heuristic"] = {
        L: evaluate(nn.Identity(), loader, metrics_of(lambda b: heuristic(b, args.target)))
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
            pred_sizes.append(predicted_size(model(batch), batch))
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
