"""Train small, predict large: BTW avalanche footprints, from fixed depth to recurrence.

Models are trained on small lattices (default L = 16, 32) and evaluated on
fresh avalanches of every size up to L = 512 (1024 times more sites):

* ``hint``         -- :class:`sgnn.tasks.ToppleAutomaton`: the toppling rule
  learnt from one-step transitions, unrolled until the state settles;
* ``count``        -- :class:`sgnn.tasks.CountAutomaton`: the least-action
  counting rule, thresholds tied across topplings, learnt from footprints alone
  (first wave, then the threshold step), snapped and verified;
* ``recurrent``    -- :class:`sgnn.tasks.FootprintAutomaton`: a monotone
  recurrent automaton learnt from footprints alone;
* ``RG-recurrent`` -- :class:`sgnn.tasks.RGRecurrent`: the RGNet V-cycle as the
  recurrent body, shared across levels and iterations;
* ``RGNet``        -- the feed-forward coarse-graining network (``rgnet-exact``);
* ``local``        -- a fixed-depth local GNN (four LatticeConv layers);
* ``drop site``    -- no learning, the trivial guess: only the drop site topples;
* ``height-3``     -- no learning: the drop site's cluster of height-3 sites;
* ``first wave``   -- no learning: the first wave of the avalanche
  (:func:`sgnn.sandpile.first_wave`).

The table gives, per model and lattice side, the mean per-avalanche IoU of the
toppled set, the mean |dlog(1+s)| of the avalanche size, the fraction of
exactly predicted footprints, the median and largest number of iterations (the
recurrent models) and the seconds per avalanche. Plots go to ``--out``.

``--target hazard`` runs the hazard-map story instead,
``examples/sandpile_hazard.py`` (with the sizes, sample counts, training
settings and ``--out`` given here; its own models).

Usage: ``python examples/sandpile_extrapolation.py [--quick] [--eval-sizes 16 64 512]``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch import nn
from torch_geometric import seed_everything
from torch_geometric.data import Batch
from tqdm.auto import tqdm

from sgnn.data import AddHierarchy, SandpileAvalanches, avalanche_to_data
from sgnn.nn import RecurrentOutput
from sgnn.sandpile import avalanche_sample, compile_kernels, first_wave
from sgnn.tasks import (
    SANDPILE_TRAINING,
    footprint_iou,
    node_outputs,
    predicted_avalanche_size,
    sandpile_model,
    sandpile_transform,
    train_sandpile_model,
    train_until_verified,
    verify_rule,
)
from sgnn.train import load_checkpoint, save_checkpoint

#: Table name -> name in sgnn.tasks.sandpile_model.
MODELS = {"hint": "hint", "count": "count", "recurrent": "recurrent",
          "RG-recurrent": "rg-recurrent", "RGNet": "rgnet-exact", "local": "local"}  # fmt: skip
RECURRENT = ("hint", "count", "recurrent", "RG-recurrent")
#: (epochs, learning rate) per model in quick runs, on 96 avalanches per size; default runs
#: train as ``sgnn train`` does, with sgnn.tasks.SANDPILE_TRAINING.
QUICK_TRAINING = {"hint": (12, 1e-1), "count": (10, 1e-1), "recurrent": (10, 1e-2),
                  "RG-recurrent": (8, 3e-2), "RGNet": (6, 1e-2), "local": (6, 1e-2)}  # fmt: skip
#: Retrainings (next seed) of a model with a verifiable local rule whose snapped rule fails.
RESTARTS = 2
#: Parameter-free baselines: the trivial guess (only the drop site topples), the
#: cluster of height-3 sites around it, and the first wave.
BASELINES = ("drop site", "height-3", "first wave")
#: Nodes per evaluation batch, at most (large lattices go one or a few at a time).
BATCH_NODES = 1 << 20
#: Avalanches of the IoU-against-iterations plot (every model runs them all in one batch).
PROBE_SAMPLES = 6


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------- data
def fresh_avalanches(size: int, count: int, seed: int) -> list[dict[str, Any]]:
    """Footprint samples with the seeds of ``SandpileAvalanches(root, size, count,
    seed=seed)``, generated in memory: large lattices are not worth caching."""
    children = np.random.SeedSequence(seed).spawn(count)
    bar = tqdm(children, desc=f"fresh avalanches L={size}", leave=False, disable=None)
    return [avalanche_sample((size, size), "footprint", child) for child in bar]


def batches(samples: list[dict[str, Any]], hierarchy: bool,
            per_batch: int = 16) -> Iterator[tuple[Batch, list[int]]]:  # fmt: skip
    """Batches of at most ``per_batch`` graphs and BATCH_NODES nodes, and the indices of
    their samples."""
    size = samples[0]["z"].shape[0]
    per_batch = max(1, min(per_batch, BATCH_NODES // (size * size)))
    to_hierarchy = AddHierarchy() if hierarchy else None
    for start in range(0, len(samples), per_batch):
        graphs = []
        for sample in samples[start : start + per_batch]:
            data = avalanche_to_data(sample)
            graphs.append(to_hierarchy(data) if to_hierarchy is not None else data)
        yield Batch.from_data_list(graphs), list(range(start, start + len(graphs)))


# ------------------------------------------------------------------- baselines
def drop_site_only(sample: dict[str, Any]) -> np.ndarray:
    """The trivial guess: the drop site alone (every sample's drop site topples)."""
    mask = np.zeros(sample["z"].size, dtype=bool)
    mask[sample["site"]] = True
    return mask


def height3_cluster(sample: dict[str, Any]) -> np.ndarray:
    """The 4-connected cluster of height-3 sites around the drop site."""
    z = sample["z"]
    labels, _ = ndimage.label(z == 3)
    return labels.reshape(-1) == labels.reshape(-1)[sample["site"]]


def first_wave_mask(sample: dict[str, Any]) -> np.ndarray:
    z = sample["z"]
    return first_wave(z, divmod(sample["site"], z.shape[1])).reshape(-1)


# ------------------------------------------------------------------ evaluation
@dataclass
class Scores:
    """Per-avalanche results of one model at one lattice size."""

    iou: list[float] = field(default_factory=list)
    size_error: list[float] = field(default_factory=list)
    exact: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    seconds: float = 0.0
    count: int = 0
    pred_sizes: list[float] = field(default_factory=list)

    def row(self) -> dict[str, float]:
        its = np.asarray(self.iterations) if self.iterations else None
        return {
            "IoU": float(np.mean(self.iou)),
            "IoU se": standard_error(self.iou),
            "|dlog(1+s)|": float(np.mean(self.size_error)),
            "exact": float(np.mean(self.exact)),
            "exact se": standard_error(self.exact),
            "it med": float(np.median(its)) if its is not None else float("nan"),
            "it max": float(its.max()) if its is not None else float("nan"),
            "s/aval": self.seconds / max(self.count, 1),
        }


def standard_error(values: list[float]) -> float:
    """Standard error of the mean of ``values`` (NaN for fewer than two)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else np.nan


def score_masks(scores: Scores, pred: np.ndarray, sizes: np.ndarray,
                samples: list[dict[str, Any]]) -> None:  # fmt: skip
    """Add the scores of predicted footprints ``pred`` (flat masks) and sizes."""
    for mask, est, sample in zip(pred, sizes, samples, strict=True):
        true = sample["topplings"].reshape(-1) > 0
        union = int((mask | true).sum())
        scores.iou.append(1.0 if union == 0 else int((mask & true).sum()) / union)
        scores.exact.append(float(np.array_equal(mask, true)))
        scores.size_error.append(abs(np.log1p(est) - np.log1p(sample["size"])))
        scores.pred_sizes.append(float(est))


def evaluate_model(model: nn.Module, samples: list[dict[str, Any]], hierarchy: bool,
                   desc: str, per_batch: int = 16) -> Scores:  # fmt: skip
    scores = Scores()
    model.eval()
    with torch.no_grad():
        for batch, index in tqdm(list(batches(samples, hierarchy, per_batch)), desc=desc,
                                 leave=False, disable=None):  # fmt: skip
            tic = time.perf_counter()
            result = model(batch)
            scores.seconds += time.perf_counter() - tic
            scores.count += len(index)
            out = node_outputs(result)
            if isinstance(result, RecurrentOutput):
                scores.iterations.extend(result.iterations.tolist())
            sizes = predicted_avalanche_size(out, batch).numpy()
            masks = (out[:, 0] > 0).numpy()
            ptr = batch.ptr.tolist()
            score_masks(scores, [masks[a:b] for a, b in itertools.pairwise(ptr)], sizes,
                        [samples[i] for i in index])  # fmt: skip
    return scores


def evaluate_baseline(name: str, samples: list[dict[str, Any]]) -> Scores:
    scores = Scores()
    rule = {"drop site": drop_site_only, "height-3": height3_cluster,
            "first wave": first_wave_mask}[name]  # fmt: skip
    tic = time.perf_counter()
    masks = [rule(s) for s in samples]
    scores.seconds = time.perf_counter() - tic
    scores.count = len(samples)
    # Each site of the predicted set topples once: the size estimate is its area.
    score_masks(scores, masks, np.array([m.sum() for m in masks], dtype=float), samples)
    return scores


# ------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("footprint", "hazard"), default="footprint")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--train-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--eval-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--train-samples", type=int, default=None, help="per training size")
    parser.add_argument("--eval-samples", type=int, default=None, help="per evaluation size")
    parser.add_argument("--slow-eval-samples", type=int, default=None,
                        help="per size from L=128 up for RG-recurrent, whose every "
                        "iteration covers the whole hierarchy (the first of the evaluation "
                        "set)")  # fmt: skip
    parser.add_argument("--large-eval-samples", type=int, default=None,
                        help="per size from L=256 up for RGNet and local, whose forward "
                        "passes over a whole large lattice are slow on a CPU")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of every model (default: per model, see TRAINING)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate of every model (default: per model)")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batches")
    parser.add_argument("--workers", type=int, default=None, help="data generation processes")
    parser.add_argument("--out", type=Path, default=Path("outputs/sandpile_extrapolation"))
    parser.add_argument("--reuse-models", action="store_true",
                        help="load the models saved in OUT/models by an earlier run of the same "
                        "configuration instead of training them again")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a one-minute run")
    args = parser.parse_args()
    if args.target == "hazard":
        run_hazard(args)
        return
    quick = args.quick
    defaults = {
        "train_sizes": [8, 16] if quick else [16, 32],
        "eval_sizes": ([16, 32] if quick else [16, 32, 64, 128, 256, 512])
        if args.target == "footprint" else [32, 64] if quick else [64, 128],
        "train_samples": 96 if quick else 1000,
        "eval_samples": 16 if quick else 100,
        "slow_eval_samples": 8 if quick else 50,
        "large_eval_samples": 8 if quick else 25,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()

    log("phase 1/3: data")
    # The first run after an install compiles the numba kernels (tens of seconds): do it
    # here, announced, rather than inside the first training epoch.
    log(f"sandpile kernels ready in {compile_kernels():.1f} s (compiled on first use, then "
        "cached)")
    def dataset(size: int, samples: int, seed: int) -> SandpileAvalanches:
        return SandpileAvalanches(str(args.out / "data"), size, samples, args.target, seed,
                                  pre_transform=sandpile_transform(), num_workers=args.workers)

    # Training and validation seeds differ from every evaluation seed (10_000 + L).
    sizes = list(enumerate(args.train_sizes))
    train_sets = [dataset(L, args.train_samples, 1 + k) for k, L in sizes]
    val_sets = [dataset(L, max(8, args.train_samples // 10), 100 + k) for k, L in sizes]
    evals = {L: fresh_avalanches(L, args.eval_samples, 10_000 + L) for L in args.eval_sizes}
    log(f"data ready in {time.perf_counter() - tic:.0f} s")

    log("phase 2/3: training")
    models: dict[str, nn.Module] = {}
    params: dict[str, int] = {}
    verified: dict[str, str] = {}
    for name in args.models:
        defaults = SANDPILE_TRAINING[MODELS[name]]
        epochs, lr = QUICK_TRAINING[name] if quick else (defaults["epochs"], defaults["lr"])
        epochs, lr = args.epochs or epochs, args.lr or lr
        # RG-recurrent trains on the smallest size only: each of its iterations is a pass
        # over the whole hierarchy, and the small lattice already holds the local rule.
        own_sets = list(zip(args.train_sizes, zip(train_sets, val_sets, strict=True),
                            strict=True))[: 1 if name == "RG-recurrent" else None]  # fmt: skip
        config = {"model": MODELS[name], "hidden_channels": args.hidden, "epochs": epochs,
                  "lr": lr, "train_sizes": [L for L, _ in own_sets],
                  "train_samples": args.train_samples,
                  "batch_size": args.batch_size, "seed": args.seed}  # fmt: skip
        path = args.out / "models" / f"{MODELS[name]}.pt"
        start = time.perf_counter()

        def build(seed: int, name: str = name) -> nn.Module:
            seed_everything(seed)
            return sandpile_model(MODELS[name], "footprint", args.hidden)

        def train(model: nn.Module, seed: int, name: str = name, own_sets: list = own_sets,
                  epochs: int = epochs, lr: float = lr) -> Any:  # fmt: skip
            return train_sandpile_model(model, [t for _, (t, _) in own_sets],
                                        [v for _, (_, v) in own_sets], epochs=epochs, lr=lr,
                                        batch_size=args.batch_size, seed=seed, grad_clip=1.0,
                                        desc=name)  # fmt: skip

        model = build(args.seed)
        if args.reuse_models and path.exists() and load_checkpoint(path)["config"] == config:
            load_checkpoint(path, model)
            log(f"{name}: loaded {path}")
        elif hasattr(model, "local_cases"):
            # Snap the learnt rule to its discrete form and verify it on every local case;
            # retrain with the next seed while it fails, as `sgnn train` does.
            model, history, verification, attempts = train_until_verified(
                build, train, args.seed, RESTARTS, print_fn=lambda line, name=name: log(
                    f"{name}: {line}"))  # fmt: skip
            save_checkpoint(path, model, config)
            verified[name] = str(verification)
            log(f"{name}: {attempts} attempt(s), {time.perf_counter() - start:.0f} s")
        else:
            history = train(model, args.seed)
            save_checkpoint(path, model, config)
            log(f"{name}: best epoch {history.best_epoch} of {len(history.train_loss)}, "
                f"{time.perf_counter() - start:.0f} s")  # fmt: skip
        if hasattr(model, "local_cases") and name not in verified:  # loaded, not trained
            verified[name] = str(verify_rule(model))
        models[name] = model
        params[name] = sum(p.numel() for p in model.parameters())

    log("phase 3/3: evaluation")
    results: dict[str, dict[int, Scores]] = {}
    print(f"trained on L = {', '.join(map(str, args.train_sizes))}; "
          f"{args.eval_samples} fresh avalanches per size "
          f"({args.slow_eval_samples} from L = 128 up for RG-recurrent, trained on "
          f"L = {args.train_sizes[0]} only; {args.large_eval_samples} from L = 256 up for "
          "RGNet and local)")
    print(HEADER)
    print("-" * len(HEADER), flush=True)
    for name in BASELINES:
        params[name] = 0
        results[name] = {}
        for L, samples in evals.items():
            results[name][L] = evaluate_baseline(name, samples)
            print(table_row(name, params[name], L, results[name][L]), flush=True)
    for name, model in models.items():
        hierarchy = name in ("RG-recurrent", "RGNet")
        results[name] = {}
        for L, samples in evals.items():
            if name == "RG-recurrent" and L >= 128:
                subset = samples[: args.slow_eval_samples]
            elif name in ("RGNet", "local") and L >= 256:
                subset = samples[: args.large_eval_samples]
            else:
                subset = samples
            # A batch runs until its slowest graph settles, and each RG-recurrent iteration
            # covers every graph of the batch: one graph at a time is faster.
            per_batch = 1 if name == "RG-recurrent" else 16
            results[name][L] = evaluate_model(model, subset, hierarchy, f"{name} L={L}",
                                              per_batch)  # fmt: skip
            print(table_row(name, params[name], L, results[name][L]), flush=True)
    print_summary(results)
    for name, line in verified.items():
        print(f"{name} local rule {line}")
    plot(results, models, evals, args)
    print(f"\ntotal {time.perf_counter() - tic:.0f} s; plots in {args.out}")


HEADER = (f"{'model':<13}{'params':>7}{'L':>6}{'n':>5}{'IoU':>8}{'+-se':>7}{'|dlog(1+s)|':>13}"
          f"{'exact':>8}{'+-se':>6}{'it med':>8}{'it max':>8}{'s/aval':>9}")  # fmt: skip


def table_row(name: str, params: int, size: int, scores: Scores) -> str:
    r = scores.row()
    its = (f"{r['it med']:>8.0f}{r['it max']:>8.0f}" if np.isfinite(r["it med"])
           else f"{'-':>8}{'-':>8}")  # fmt: skip
    return (f"{name:<13}{params:>7}{size:>6}{scores.count:>5}{r['IoU']:>8.3f}{r['IoU se']:>7.3f}"
            f"{r['|dlog(1+s)|']:>13.3f}{r['exact']:>8.2f}{r['exact se']:>6.2f}{its}"
            f"{r['s/aval']:>9.3f}")


def print_summary(results: dict[str, dict[int, Scores]]) -> None:
    """The mean IoU of every model at every size, and the iteration ratio of the question
    whether coarse levels cut the sequential steps of large avalanches."""
    sizes = list(next(iter(results.values())))
    print("\nmean IoU")
    print(f"{'model':<13}" + "".join(f"{f'L={L}':>9}" for L in sizes))
    for name, per_size in results.items():
        print(f"{name:<13}" + "".join(f"{per_size[L].row()['IoU']:>9.3f}" for L in sizes))
    if "RG-recurrent" in results and "recurrent" in results:
        for big in [L for L in sizes if L >= 128] or [max(sizes)]:
            # On the same avalanches: RG-recurrent may have run on the first few only.
            rg, local = results["RG-recurrent"][big], results["recurrent"][big]
            n = len(rg.iterations)
            rg_med = float(np.median(rg.iterations))
            local_med = float(np.median(local.iterations[:n]))
            print(f"L = {big} ({n} avalanches): median iterations RG-recurrent {rg_med:.0f}, "
                  f"recurrent {local_med:.0f} (ratio {rg_med / max(local_med, 1):.2f}); "
                  f"IoU {np.mean(rg.iou):.3f} vs {np.mean(local.iou[:n]):.3f}; seconds per "
                  f"avalanche {rg.row()['s/aval']:.3f} vs {local.row()['s/aval']:.3f}")


# ------------------------------------------------------------------------ plots
def plot(results: dict[str, dict[int, Scores]], models: dict[str, nn.Module],
         evals: dict[int, list[dict[str, Any]]], args: argparse.Namespace) -> None:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(evals)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, per_size in results.items():
        style = "--" if name in BASELINES else "-"
        ax.plot(sizes, [per_size[L].row()["IoU"] for L in sizes], style, marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(L) for L in sizes])
    ax.minorticks_off()
    for L in args.train_sizes:
        ax.axvline(L, color="0.88", zorder=0)
    ax.set(xlabel="lattice side L (sites)", ylabel="mean footprint IoU",
           title=f"Trained on L = {', '.join(map(str, args.train_sizes))}: footprint IoU")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(args.out / "footprint_iou_vs_size.png", dpi=110)
    plt.close(fig)

    recurrent = [n for n in RECURRENT if n in models]
    probe = 128 if 128 in evals else max(sizes)
    if recurrent:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        for name in recurrent:
            steps, ious = iou_vs_iterations(models[name], evals[probe][:PROBE_SAMPLES], name)
            ax.plot(steps, ious, marker=".", label=name)
        ax.set_xscale("log")
        ax.set(xlabel="iterations run (no early stop)", ylabel="mean footprint IoU",
               title=f"IoU against iterations at L = {probe} ({PROBE_SAMPLES} avalanches)")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.out / f"iou_vs_iterations_L{probe}.png", dpi=110)
        plt.close(fig)

    big = max(sizes)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    true = np.array([s["size"] for s in evals[big]], dtype=float)
    bins = np.logspace(0, np.log10(max(true.max(), 10) * 2), 24)
    ax.hist(true[true > 0], bins=bins, histtype="step", density=True, lw=2, color="k",
            label="simulated")  # fmt: skip
    for name, per_size in results.items():
        pred = np.asarray(per_size[big].pred_sizes)
        if pred.size and (pred > 0).any():
            ax.hist(pred[pred > 0], bins=bins, histtype="step", density=True,
                    label=f"{name} ({pred.size})")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="avalanche size s (topplings)",
           ylabel="probability density", title=f"Avalanche sizes at L = {big}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / f"size_distribution_L{big}.png", dpi=110)
    plt.close(fig)

    largest = int(np.argmax(true))
    sample = evals[big][largest]
    shown = [n for n in ("hint", "count", "recurrent") if n in models]
    fig, axes = plt.subplots(1, 1 + len(shown), figsize=(4.2 * (1 + len(shown)), 4.6))
    axes = np.atleast_1d(axes)
    axes[0].imshow(sample["topplings"] > 0, cmap="magma")
    axes[0].set_title(f"simulated, s = {sample['size']}")
    for ax, name in zip(axes[1:], shown, strict=True):
        batch, _ = next(batches([sample], hierarchy=False))
        with torch.no_grad():
            out = models[name](batch).node
        ax.imshow((out[:, 0] > 0).reshape(big, big).numpy(), cmap="magma")
        ax.set_title(f"{name}, IoU {results[name][big].iou[largest]:.3f}")
    for ax in axes:
        ax.set(xticks=[], yticks=[])
    fig.suptitle(f"Footprint of the largest avalanche at L = {big} (toppled sites bright)")
    fig.tight_layout()
    fig.savefig(args.out / f"footprint_L{big}.png", dpi=110)
    plt.close(fig)


def iou_vs_iterations(model: nn.Module, samples: list[dict[str, Any]],
                      name: str) -> tuple[list[int], list[float]]:  # fmt: skip
    """Mean IoU after t iterations, on a geometric grid of t up to 3x the longest run."""
    hierarchy = name == "RG-recurrent"
    batch, _ = next(batches(samples, hierarchy))
    model.eval()
    with torch.no_grad():
        longest = int(model(batch).iterations.max())
        grid = sorted({int(v) for v in np.geomspace(1, 3 * longest, 20)})
        true = batch.toppled > 0
        ious = []
        state = None
        done = 0
        for t in grid:
            result = model(batch, state=state, num_iters=t - done)
            state, done = result.state, t
            pred = result.node[:, 0] > 0
            ious.append(float(footprint_iou(pred, true, batch.batch).mean()))
    return grid, ious


def run_hazard(args: argparse.Namespace) -> None:
    """Hand over to examples/sandpile_hazard.py, with the options given here."""
    import sandpile_hazard  # beside this file: on sys.path when run as a script

    forwarded = ["--quick"] if args.quick else []
    for key in ("train_sizes", "eval_sizes", "train_samples", "eval_samples", "epochs", "lr",
                "workers"):  # fmt: skip
        value = getattr(args, key)
        if value is not None:
            forwarded += [f"--{key.replace('_', '-')}",
                          *map(str, value if isinstance(value, list) else [value])]  # fmt: skip
    forwarded += ["--hidden", str(args.hidden), "--batch-size", str(args.batch_size),
                  "--seed", str(args.seed), "--out", str(args.out)]  # fmt: skip
    sandpile_hazard.main(forwarded)


if __name__ == "__main__":
    main()
