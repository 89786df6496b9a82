"""Argmax of a set: trained on sets of 10 numbers, asked about sets of 10 000.

Each set holds ``n`` numbers drawn from N(0, 1); the target is the position of
the largest, a node-level classification that is permutation-equivariant:
shuffling the set shuffles the answer. Three models are trained on ``n = 10``
only, with cross-entropy over each set's elements:

* ``pairwise`` -- two :class:`sgnn.nn.PairwiseSetConv` layers (max over pair
  messages) and a linear read-out per element. "Is some x_j larger than x_i?"
  is one hidden unit of a pair message, so the rule it learns does not depend
  on ``n``;
* ``DeepSets`` -- three :class:`sgnn.nn.DeepSetsLayer` layers (each element
  plus the set's mean) and the same read-out: equivariant, but an element
  meets the others only through a pooled summary;
* ``MLP``      -- a multilayer perceptron on the concatenated set: not
  equivariant, and its input size fixes ``n = 10`` (other sizes: n/a).

The table gives the accuracy (the fraction of sets whose largest element gets
the largest logit) for n = 10, 100, 1 000 and 10 000. Larger sets have larger
maxima (about 1.5 at n = 10, 3.9 at n = 10 000) and closer runners-up, so a
model must extrapolate in value as well as in size. Plots (``--out``):
accuracy versus n, and the pairwise model's logits on one set of 1 000.

Usage: ``python examples/set_argmax.py [--epochs N] [--quick]``.
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

TRAIN_SIZE = 10


# ------------------------------------------------------------------------------- data
def sample_sets(num_sets: int, n: int, generator: torch.Generator) -> Batch:
    """``num_sets`` sets of ``n`` numbers; ``y`` is the position of each set's largest."""
    values = torch.randn(num_sets, n, generator=generator)
    return equal_size_batch(num_sets, n, x=values.reshape(-1, 1), y=values.argmax(dim=1))


class FreshSets:
    """An endless supply of training sets: every epoch draws new ones."""

    def __init__(self, batches: int, batch_size: int, n: int, seed: int) -> None:
        self.batches, self.batch_size, self.n = batches, batch_size, n
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Iterator[Batch]:
        for _ in range(self.batches):
            yield sample_sets(self.batch_size, self.n, self.generator)


# ----------------------------------------------------------------------------- models
class SetClassifier(nn.Module):
    """Equivariant layers with ReLUs between them, then one logit per element."""

    def __init__(self, layers: list[nn.Module], hidden: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.readout = nn.Linear(hidden, 1)

    def forward(self, batch: Batch) -> Tensor:
        h = batch.x
        for layer in self.layers:
            h = torch.relu(layer(h, batch=batch.batch))
        return self.readout(h)[:, 0]  # one score per element


def pairwise_model(hidden: int) -> SetClassifier:
    return SetClassifier([PairwiseSetConv(1, hidden), PairwiseSetConv(hidden, hidden)], hidden)


def deepsets_model(hidden: int) -> SetClassifier:
    layers = [DeepSetsLayer(1, hidden)] + [DeepSetsLayer(hidden, hidden) for _ in range(2)]
    return SetClassifier(layers, hidden)


class SetMLP(nn.Module):
    """A plain MLP on the concatenated set; it only accepts sets of ``n`` elements."""

    def __init__(self, n: int, hidden: int) -> None:
        super().__init__()
        self.n = n
        self.net = nn.Sequential(nn.Linear(n, 4 * hidden), nn.ReLU(),
                                 nn.Linear(4 * hidden, 4 * hidden), nn.ReLU(),
                                 nn.Linear(4 * hidden, n))  # fmt: skip

    def forward(self, batch: Batch) -> Tensor:
        return self.net(batch.x.view(batch.num_graphs, self.n)).flatten()


def loss(model: nn.Module, batch: Batch) -> Tensor:
    """Softmax over each set's elements (sets of any sizes), cross-entropy with the target."""
    return set_cross_entropy(model(batch), batch.batch, batch.y)


def correct(scores: Tensor, batch: Batch) -> Tensor:
    """1 for each set whose largest element gets the largest logit, else 0 (a metric of
    :func:`~sgnn.train.evaluate`, which runs the model)."""
    return (set_argmax(scores, batch.batch) == batch.y).double()


# -------------------------------------------------------------------------------- main
def plot(accuracy: dict[str, dict[int, float]], model: nn.Module, out: Path, seed: int) -> None:
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, row in accuracy.items():
        sizes = [n for n, value in row.items() if not np.isnan(value)]
        left.plot(sizes, [100 * row[n] for n in sizes], "o-", label=name)
    left.axvline(TRAIN_SIZE, color="k", ls=":", label="training size")
    left.set(xscale="log", xlabel="set size n", ylabel="accuracy (%)", ylim=(0, 102),
             title="argmax accuracy, trained on n = 10")  # fmt: skip
    left.legend()
    batch = sample_sets(1, 1000, torch.Generator().manual_seed(seed + 7))
    with torch.no_grad():
        logits = model(batch)
    x, top = batch.x[:, 0], int(batch.y[0])
    right.scatter(x, logits, s=6, label="elements")
    right.scatter(x[top], logits[top], s=60, marker="*", color="C3", label="largest")
    right.set(xlabel="value x_i", ylabel="logit", title="pairwise model on one set of 1 000")
    right.legend()
    fig.tight_layout()
    fig.savefig(out / "set_argmax.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/set_argmax"))
    parser.add_argument("--quick", action="store_true", help="tiny run for tests")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    epochs = 2 if args.quick else args.epochs
    # Test sets per size: pairwise layers cost O(n^2) per set, so fewer of the large ones.
    test_sets = {10: 10_000, 100: 2_000, 1000: 200, 10_000: 6}
    if args.quick:
        test_sets = {10: 500, 100: 100, 1000: 10, 10_000: 1}
    seed_everything(args.seed)
    val = [sample_sets(1000, TRAIN_SIZE, torch.Generator().manual_seed(args.seed + 1))]
    gen = torch.Generator().manual_seed(args.seed + 2)
    tests: dict[int, list[Batch]] = {}
    for n, count in test_sets.items():
        per_batch = max(1, min(count, 20_000 // n))  # about 20 000 elements per batch
        tests[n] = [sample_sets(min(per_batch, count - done), n, gen)
                    for done in range(0, count, per_batch)]  # fmt: skip

    models = {"pairwise": pairwise_model(args.hidden), "DeepSets": deepsets_model(args.hidden),
              "MLP": SetMLP(TRAIN_SIZE, args.hidden)}  # fmt: skip
    accuracy: dict[str, dict[int, float]] = {}
    for k, (name, model) in enumerate(models.items()):
        start = time.perf_counter()
        train = FreshSets(batches=50, batch_size=128, n=TRAIN_SIZE, seed=args.seed + 10 + k)
        # progress=None: a bar per epoch and per test size on stderr, only on a terminal.
        history = fit(model, loss, train, val, epochs=epochs, lr=3e-3, progress=None, desc=name)
        accuracy[name] = {
            n: evaluate(model, batches, {"acc": correct}, progress=None)["acc"]
            if name != "MLP" or n == TRAIN_SIZE else float("nan")
            for n, batches in tests.items()
        }  # fmt: skip
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, "
              f"{epochs * len(train) * train.batch_size} training sets, validation loss "
              f"{history.best_val_loss:.4f}, {time.perf_counter() - start:.0f} s")  # fmt: skip

    counted = {n: sum(b.num_graphs for b in batches) for n, batches in tests.items()}
    print(f"\naccuracy (%) after training on n = {TRAIN_SIZE}; test sets per size: "
          + ", ".join(f"{c} at n = {n}" for n, c in counted.items()))
    print(f"{'model':10s}" + "".join(f"{f'n={n}':>11s}" for n in tests))
    print("-" * (10 + 11 * len(tests)))
    for name, row in accuracy.items():
        cells = ("n/a" if np.isnan(v) else f"{100 * v:.2f}" for v in row.values())
        print(f"{name:10s}" + "".join(f"{c:>11s}" for c in cells))
    try:
        plot(accuracy, models["pairwise"], args.out, args.seed)
    except ImportError:
        print("matplotlib is not installed: no plots (pip install sgnn[examples])")
    print(f"total {time.perf_counter() - tic:.0f} s; plot in {args.out}")


if __name__ == "__main__":
    main()
