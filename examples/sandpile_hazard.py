"""Where would one more grain cause a catastrophe? Hazard maps learnt on small lattices.

The hazard map of a stable BTW pile gives, for every site, the size of the
avalanche one grain dropped there would trigger (exact:
:func:`sgnn.sandpile.avalanche_sizes`, one avalanche per site, a cost that grows
like L^4). Models are trained on hazard maps of small lattices (default L = 16,
32) and scored on fresh configurations of large ones (default L = 128, 256,
512, seed 10 000 + L, never used in training):

* ``wave``        -- :class:`sgnn.tasks.WaveHazard`: the first two waves of
  every site, exact fixed points computed once per cluster of height-3 sites,
  and a learned local correction for the waves that follow;
* ``rgnet-unet``  -- the coarse-graining U-Net (:class:`sgnn.nn.RGNet`), one
  pass over the hierarchy;
* ``rgnet-exact`` -- the coarse-graining RGNet, exact mode;
* ``local``       -- four nearest-neighbour LatticeConv layers;
* ``wave-mse``    -- ablation: the wave model trained on the squared error of
  log(1 + s) alone;
* baselines without learning: ``first-wave`` and ``two-waves`` (exact wave
  sizes), ``height-3`` (the size of the site's cluster of height-3 sites),
  ``random``.

Every model is trained with the loss of :func:`sgnn.tasks.hazard_criterion`: a
listwise cross-entropy that weighs each site by its share of the avalanche mass
(the sizes are heavy-tailed: the few system-spanning sites are what a forecaster
must find), plus the squared error of log(1 + s) for the overall level.

The first table gives the captured hazard of the top 1 % of sites (the true size
of the sites a model ranks highest, over that of the true top 1 %; mean and
standard deviation over configurations). The second gives, at the largest side,
the captured top 0.1 %, the precision and recall of alarms for system-spanning
avalanches (s >= L^2/8), Spearman's rank correlation and the seconds per map
against the exact map. Figures go to ``--out``: the captured hazard against L,
and one configuration of the largest side with its exact map, the best learned
model's and the first-wave baseline's.

Usage: ``python examples/sandpile_hazard.py [--quick]`` (the default run takes
about 20 minutes on 2 cores; ``--quick`` about a minute).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import mse_loss
from torch_geometric import seed_everything
from torch_geometric.loader import DataLoader

from sgnn.data import SandpileAvalanches, sandpile_heights
from sgnn.sandpile import avalanche_sizes, compile_kernels
from sgnn.tasks import (
    HAZARD_BASELINES,
    SANDPILE_TRAINING,
    hazard_baseline,
    node_outputs,
    sandpile_metrics,
    sandpile_model,
    sandpile_transform,
    train_sandpile_model,
)

MODELS = ("wave", "rgnet-unet", "rgnet-exact", "local")
#: Ablations: the wave model trained on the squared error of log(1 + s) alone.
ABLATIONS = {"wave-mse": "wave"}
BASELINES = (*HAZARD_BASELINES, "random")
#: The metrics of the tables, as named by sgnn.tasks.sandpile_metrics("hazard").
CAPTURED = "captured 1%"
DETAILS = ("captured 0.1%", "alarm precision", "alarm recall", "Spearman")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def squared_error(model: torch.nn.Module, batch: Any) -> Tensor:
    """The hazard loss before the listwise term: the squared error of log(1 + s)."""
    return mse_loss(node_outputs(model(batch))[:, 0], batch.hazard)


def random_hazard(seed: int) -> Callable[[Any], Tensor]:
    """Uniform random scores: the chance level of every metric."""
    gen = torch.Generator().manual_seed(seed)
    return lambda batch: torch.rand(batch.num_nodes, 1, generator=gen)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=[*MODELS, *ABLATIONS],
                        default=[*MODELS, *ABLATIONS])  # fmt: skip
    parser.add_argument("--train-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--eval-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--train-samples", type=int, default=None,
                        help="hazard maps per training size (default: per model, "
                        "sgnn.tasks.SANDPILE_TRAINING)")  # fmt: skip
    parser.add_argument("--eval-samples", type=int, default=None,
                        help="configurations per evaluation size")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of every model (default: per model)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate of every model (default: per model)")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batches")
    parser.add_argument("--workers", type=int, default=None, help="data generation processes")
    parser.add_argument("--out", type=Path, default=Path("outputs/sandpile_hazard"))
    parser.add_argument("--quick", action="store_true", help="a one-minute run")
    args = parser.parse_args(argv)
    defaults = {
        "train_sizes": [8, 16] if args.quick else [16, 32],
        "eval_sizes": [32, 64] if args.quick else [128, 256, 512],
        "eval_samples": 6 if args.quick else 8,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.quick and args.models == [*MODELS, *ABLATIONS]:
        args.models = ["wave", "rgnet-unet"]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    log(f"sandpile kernels ready in {compile_kernels():.1f} s (compiled on first use, then "
        "cached)")  # fmt: skip

    def dataset(size: int, samples: int, seed: int) -> SandpileAvalanches:
        return SandpileAvalanches(str(args.out / "data"), size, samples, "hazard", seed,
                                  transform=sandpile_transform(), num_workers=args.workers,
                                  log=False)  # fmt: skip

    log("phase 1/3: training")
    models: dict[str, torch.nn.Module] = {}
    for name in args.models:
        zoo_name = ABLATIONS.get(name, name)
        defaults = SANDPILE_TRAINING[zoo_name]
        samples = args.train_samples or (96 if args.quick else defaults["num_samples"])
        # Training and validation seeds (1 + k, 100 + k) differ from every evaluation seed.
        train_sets = [dataset(L, samples, 1 + k) for k, L in enumerate(args.train_sizes)]
        val_sets = [dataset(L, max(8, samples // 10), 100 + k)
                    for k, L in enumerate(args.train_sizes)]  # fmt: skip
        seed_everything(args.seed)
        model = sandpile_model(zoo_name, "hazard", args.hidden)
        epochs = args.epochs or (1 if args.quick else defaults["epochs"])
        train_sandpile_model(model, train_sets, val_sets, target="hazard", epochs=epochs,
                             lr=args.lr or defaults["lr"], batch_size=args.batch_size,
                             seed=args.seed, desc=name,
                             loss=squared_error if name in ABLATIONS else None)  # fmt: skip
        models[name] = model.eval()
    log(f"trained in {time.perf_counter() - tic:.0f} s")

    log("phase 2/3: evaluation on fresh configurations")
    predictors: dict[str, Callable[[Any], Tensor]] = dict(models)
    predictors.update({name: hazard_baseline(name) for name in HAZARD_BASELINES})
    predictors["random"] = random_hazard(args.seed)
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    metrics = sandpile_metrics("hazard")
    scores: dict[str, dict[int, dict[str, list[float]]]] = {n: {} for n in predictors}
    seconds: dict[str, dict[int, list[float]]] = {n: {} for n in (*predictors, "exact")}
    example: dict[str, np.ndarray] = {}
    for L in args.eval_sizes:
        configurations = dataset(L, args.eval_samples, 10_000 + L)
        for i, batch in enumerate(DataLoader(configurations, batch_size=1)):
            if i == 0:  # the exact map once per size, timed in this run
                z = sandpile_heights(batch.x).view(L, L).numpy()
                start = time.perf_counter()
                avalanche_sizes(z, progress=False)
                seconds["exact"][L] = [time.perf_counter() - start]
            for name, predict in predictors.items():
                start = time.perf_counter()
                with torch.no_grad():
                    out = node_outputs(predict(batch))
                seconds[name].setdefault(L, []).append(time.perf_counter() - start)
                cell = scores[name].setdefault(L, {m: [] for m in metrics})
                for metric, fn in metrics.items():
                    cell[metric].append(float(fn(out, batch)[0]))
                if i == 0 and L == args.eval_sizes[-1]:
                    example[name] = out[:, 0].view(L, L).numpy()
            if i == 0 and L == args.eval_sizes[-1]:
                example["heights"] = sandpile_heights(batch.x).view(L, L).numpy()
                example["exact"] = batch.hazard.view(L, L).numpy()
        log(f"L = {L}: {len(configurations)} configurations scored")

    log("phase 3/3: tables and figures")
    print_tables(args, scores, seconds, params)
    best = max(models, key=lambda n: np.nanmean(scores[n][args.eval_sizes[-1]][CAPTURED]))
    plot(args, scores, example, best)
    print(f"\ntotal {time.perf_counter() - tic:.0f} s")


def mean_sd(values: list[float]) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "-"
    return f"{v.mean():.3f} ± {v.std(ddof=1) if v.size > 1 else 0.0:.3f}"


def print_tables(args: argparse.Namespace, scores: dict, seconds: dict, params: dict) -> None:
    n = args.eval_samples
    print(f"\ncaptured hazard of the top 1 % of sites, mean ± sd over {n} configurations "
          f"per size (trained on L = {' '.join(map(str, args.train_sizes))})")  # fmt: skip
    print(f"{'model':<13}{'params':>8}" + "".join(f"{f'L={L}':>18}" for L in args.eval_sizes))
    for name, per_size in scores.items():
        cells = "".join(f"{mean_sd(per_size[L][CAPTURED]):>18}" for L in args.eval_sizes)
        print(f"{name:<13}{params.get(name, 0):>8}{cells}")
    if args.quick:
        print("(quick mode: one epoch on 96 maps per size, so the learned heads are far from "
              "converged; the default run trains them fully)")  # fmt: skip
    L = args.eval_sizes[-1]
    exact = np.median(seconds["exact"][L])
    print(f"\nat L = {L}: mean ± sd over {n} configurations; seconds per map (median), and "
          f"the exact map's {exact:.2f} s over it")  # fmt: skip
    print(f"{'model':<13}" + "".join(f"{m:>18}" for m in DETAILS) + f"{'s/map':>9}{'speed-up':>10}")
    for name, per_size in scores.items():
        cells = "".join(f"{mean_sd(per_size[L][m]):>18}" for m in DETAILS)
        s = float(np.median(seconds[name][L]))
        print(f"{name:<13}{cells}{s:>9.3f}{exact / s:>9.1f}x")


def plot(args: argparse.Namespace, scores: dict, example: dict, best: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, per_size in scores.items():
        means = [np.nanmean(per_size[L][CAPTURED]) for L in args.eval_sizes]
        style = "o-" if name in MODELS else "^:" if name in ABLATIONS else "s--"
        ax.plot(args.eval_sizes, means, style, label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("lattice side L")
    ax.set_ylabel("captured hazard, top 1 %")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "captured_hazard.png", dpi=120)
    plt.close(fig)

    L = args.eval_sizes[-1]
    panels = [("heights", example["heights"], "viridis"),
              ("exact log(1 + s)", example["exact"], "magma"),
              (f"{best} (learned)", example[best], "magma"),
              ("first-wave baseline", example["first-wave"], "magma")]  # fmt: skip
    top = float(example["exact"].max())
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
    for ax, (title, image, cmap) in zip(axes, panels, strict=True):
        shown = ax.imshow(image, cmap=cmap, vmin=0, vmax=3 if title == "heights" else top,
                          interpolation="nearest")  # fmt: skip
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(shown, ax=ax, fraction=0.046)
    fig.suptitle(f"one L = {L} configuration (seed {10_000 + L})")
    fig.tight_layout()
    fig.savefig(args.out / "hazard_maps.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
