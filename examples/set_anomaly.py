"""Odd one out: find the intruder in a set of handwritten digits.

Each set holds ``n - 1`` images of one digit and one image of another; the
target is the position of the intruder (a node-level classification that is
permutation-equivariant). Images are the 8x8 digits that scikit-learn ships
(1 797 images, no download), split by image into training (50 %), validation
(15 %) and test (35 %) images, so that test sets are built from images no model
has seen. Models are trained on sets of 5 and evaluated on
sets of 5, 20 and 50:

* ``pairwise`` -- a per-image encoder, then two :class:`sgnn.nn.PairwiseSetConv`
  layers with mean aggregation ("how unlike the others am I, on average?"),
  then one logit per image;
* ``DeepSets`` -- the same encoder, then :class:`sgnn.nn.DeepSetsLayer` layers
  (each image against the set's mean embedding);
* ``MLP``      -- the baseline: a multilayer perceptron on the five concatenated
  images. It is not equivariant and takes sets of 5 only (other sizes: n/a);
* ``farthest`` -- a parameter-free baseline that runs at every size: the
  image farthest (in pixels) from the set's mean image.

The table gives the fraction of test sets whose intruder gets the largest
logit; chance is 1/n. Plot (``--out``): accuracy versus set size, and one test
set of 20 with the pairwise model's choice.

Usage: ``python examples/set_anomaly.py [--epochs N] [--quick]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric import seed_everything
from torch_geometric.data import Batch

from sgnn.data import equal_size_batch
from sgnn.nn import DeepSetsLayer, PairwiseSetConv
from sgnn.train import evaluate, fit, set_argmax, set_cross_entropy

TRAIN_SIZE = 5
TEST_SIZES = (5, 20, 50)


# ------------------------------------------------------------------------------- data
def split_digits(seed: int) -> dict[str, dict[int, np.ndarray]]:
    """The scikit-learn digits (pixels scaled to [0, 1]) by split and class."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    pools: dict[str, dict[int, np.ndarray]] = {"train": {}, "valid": {}, "test": {}}
    for label in range(10):
        members = rng.permutation(np.flatnonzero(digits.target == label))
        cut = np.cumsum([len(members) // 2, len(members) * 15 // 100])
        for split, part in zip(pools, np.split(members, cut), strict=True):
            pools[split][label] = images[part]
    return pools


def sample_odd_sets(pools: dict[int, np.ndarray], num_sets: int, n: int,
                    rng: np.random.Generator) -> Batch:  # fmt: skip
    """Sets of ``n - 1`` distinct images of one digit and one of another, shuffled."""
    images, intruders = [], []
    for _ in range(num_sets):
        common, odd = rng.choice(10, size=2, replace=False)
        pool = pools[common]
        members = pool[rng.choice(len(pool), size=n - 1, replace=False)]
        stranger = pools[odd][rng.integers(len(pools[odd]))]
        position = int(rng.integers(n))
        images.append(np.insert(members, position, stranger, axis=0))
        intruders.append(position)
    return equal_size_batch(num_sets, n, x=torch.from_numpy(np.concatenate(images)),
                            y=torch.tensor(intruders))  # fmt: skip


class FreshOddSets:
    """New training sets every epoch, from the training half of the images."""

    def __init__(self, pools: dict[int, np.ndarray], batches: int, batch_size: int, n: int,
                 seed: int) -> None:  # fmt: skip
        self.pools, self.batches, self.batch_size, self.n = pools, batches, batch_size, n
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Iterator[Batch]:
        for _ in range(self.batches):
            yield sample_odd_sets(self.pools, self.batch_size, self.n, self.rng)


# ----------------------------------------------------------------------------- models
def image_encoder(hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, 2 * hidden), nn.ReLU(), nn.Linear(2 * hidden, hidden))


class OddOneOut(nn.Module):
    """Encoder per image, equivariant set layers, one logit per image."""

    def __init__(self, set_layers: list[nn.Module], hidden: int) -> None:
        super().__init__()
        self.encoder = image_encoder(hidden)
        self.set_layers = nn.ModuleList(set_layers)
        self.readout = nn.Linear(hidden, 1)

    def forward(self, batch: Batch) -> Tensor:
        h = self.encoder(batch.x)
        for layer in self.set_layers:
            h = torch.relu(layer(h, batch=batch.batch))
        return self.readout(h)[:, 0]  # one score per element


class ConcatMLP(nn.Module):
    """The non-equivariant baseline: an MLP on the concatenated images of a set of ``n``."""

    def __init__(self, n: int, hidden: int) -> None:
        super().__init__()
        self.n = n
        self.net = nn.Sequential(nn.Linear(64 * n, 4 * hidden), nn.ReLU(),
                                 nn.Linear(4 * hidden, 4 * hidden), nn.ReLU(),
                                 nn.Linear(4 * hidden, n))  # fmt: skip

    def forward(self, batch: Batch) -> Tensor:
        return self.net(batch.x.view(batch.num_graphs, 64 * self.n)).flatten()


class FarthestFromMean(nn.Module):
    """Score = pixel distance to the set's mean image (nothing to train)."""

    def forward(self, batch: Batch) -> Tensor:
        x = batch.x.view(batch.num_graphs, -1, 64)
        return (x - x.mean(dim=1, keepdim=True)).norm(dim=2).flatten()


def loss(model: nn.Module, batch: Batch) -> Tensor:
    """Softmax over each set's elements (sets of any sizes), cross-entropy with the target."""
    return set_cross_entropy(model(batch), batch.batch, batch.y)


def correct(scores: Tensor, batch: Batch) -> Tensor:
    """1 for each set whose intruder gets the largest logit, else 0 (a metric of
    :func:`~sgnn.train.evaluate`, which runs the model)."""
    return (set_argmax(scores, batch.batch) == batch.y).double()


# -------------------------------------------------------------------------------- main
def behind(accuracy: dict[str, dict[int, float]], baseline: str) -> dict[str, str]:
    """The models whose accuracy, as printed, is below ``baseline``'s at some set size:
    ``{name: "67.5 % vs 81.0 % at n = 5, ..."}`` (sizes a model does not take left out)."""
    reference = accuracy[baseline]
    lagging = {}
    for name, row in accuracy.items():
        cells = [(float(f"{100 * v:.1f}"), float(f"{100 * reference[n]:.1f}"), n)
                 for n, v in row.items() if name != baseline and not np.isnan(v)]  # fmt: skip
        numbers = [f"{a:.1f} % vs {b:.1f} % at n = {n}" for a, b, n in cells if a < b]
        if numbers:
            lagging[name] = ", ".join(numbers)
    return lagging


def plot(accuracy: dict[str, dict[int, float]], model: nn.Module, example: Batch,
         out: Path) -> None:  # fmt: skip
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(11, 4))
    left = fig.add_subplot(1, 3, 1)
    for name, row in accuracy.items():
        sizes = [n for n, value in row.items() if not np.isnan(value)]
        left.plot(sizes, [100 * row[n] for n in sizes], "o-", label=name)
    left.plot(TEST_SIZES, [100 / n for n in TEST_SIZES], "k:", label="chance")
    left.set(xlabel="set size n", ylabel="accuracy (%)", ylim=(0, 102),
             title=f"odd one out, trained on n = {TRAIN_SIZE}")  # fmt: skip
    left.legend(fontsize=8)
    with torch.no_grad():
        choice = int(model(example).argmax())
    n = example.num_nodes
    grid = fig.add_gridspec(4, 5, left=0.42, right=0.98, top=0.88, bottom=0.05)
    for i in range(n):
        ax = fig.add_subplot(grid[i // 5, i % 5])
        ax.imshow(example.x[i].view(8, 8), cmap="gray_r")
        ax.set_xticks([])
        ax.set_yticks([])
        if i in (choice, int(example.y[0])):
            color = "C2" if choice == int(example.y[0]) else ("C3" if i == choice else "C0")
            for spine in ax.spines.values():
                spine.set(color=color, linewidth=3)
    fig.text(0.70, 0.93, "a test set of 20: the pairwise model's choice is framed "
             "(green: right)", ha="center")  # fmt: skip
    fig.savefig(out / "set_anomaly.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/set_anomaly"))
    parser.add_argument("--quick", action="store_true", help="tiny run for tests")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    epochs = 2 if args.quick else args.epochs
    num_test = 200 if args.quick else 2000
    seed_everything(args.seed)
    pools = split_digits(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    val = [sample_odd_sets(pools["valid"], 1000, TRAIN_SIZE, rng)]
    tests = {n: [sample_odd_sets(pools["test"], num_test, n, rng)] for n in TEST_SIZES}

    h = args.hidden
    models: dict[str, nn.Module] = {
        "pairwise": OddOneOut([PairwiseSetConv(h, h, aggr="mean"),
                               PairwiseSetConv(h, h, aggr="mean")], h),
        "DeepSets": OddOneOut([DeepSetsLayer(h, h), DeepSetsLayer(h, h)], h),
        "MLP": ConcatMLP(TRAIN_SIZE, h),
        "farthest": FarthestFromMean(),
    }  # fmt: skip
    accuracy: dict[str, dict[int, float]] = {}
    for k, (name, model) in enumerate(models.items()):
        start = time.perf_counter()
        if name != "farthest":
            train = FreshOddSets(pools["train"], batches=40, batch_size=64, n=TRAIN_SIZE,
                                 seed=args.seed + 10 + k)  # fmt: skip
            # progress=None: a bar per epoch on stderr, only on a terminal.
            history = fit(model, loss, train, val, epochs=epochs, lr=1e-3, progress=None,
                          desc=name)
            print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, "
                  f"{epochs * len(train) * train.batch_size} training sets, validation loss "
                  f"{history.best_val_loss:.4f}, {time.perf_counter() - start:.0f} s")  # fmt: skip
        accuracy[name] = {
            n: evaluate(model, batches, {"acc": correct}, progress=None)["acc"]
            if name != "MLP" or n == TRAIN_SIZE else float("nan")
            for n, batches in tests.items()
        }  # fmt: skip

    print(f"\naccuracy (%) finding the intruder, trained on sets of {TRAIN_SIZE}; "
          f"{num_test} test sets per size from unseen images")  # fmt: skip
    print(f"{'model':10s}" + "".join(f"{f'n={n}':>9s}" for n in TEST_SIZES))
    print("-" * (10 + 9 * len(TEST_SIZES)))
    for name, row in {**accuracy, "chance": {n: 1 / n for n in TEST_SIZES}}.items():
        cells = ("n/a" if np.isnan(v) else f"{100 * v:.1f}" for v in row.values())
        print(f"{name:10s}" + "".join(f"{c:>9s}" for c in cells))
    if args.quick:
        for name, numbers in behind(accuracy, "farthest").items():
            print(f"not converged in quick mode: {name} is behind farthest ({numbers}); run "
                  "without --quick")  # fmt: skip
    try:
        example = sample_odd_sets(pools["test"], 1, 20, np.random.default_rng(args.seed + 2))
        plot(accuracy, models["pairwise"].eval(), example, args.out)
    except ImportError:
        print("matplotlib is not installed: no plots (pip install sgnn[examples])")
    print(f"total {time.perf_counter() - tic:.0f} s; plot in {args.out}")


if __name__ == "__main__":
    main()
