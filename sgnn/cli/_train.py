"""``sgnn train``: train a sandpile model on small lattices and save a checkpoint; with the
datasets and the kernel warm-up that ``sgnn evaluate`` shares."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .._names import SANDPILE_TRAINING


def dataset(args: argparse.Namespace, size: int, samples: int, seed: int,
             model: str) -> Any:  # fmt: skip
    """The plain graphs that ``sgnn generate`` caches, with what ``model`` reads (a
    hierarchy, dilated edges) added on access: one cache serves every model, and large
    lattices stay small on disk."""
    from ..data import SandpileAvalanches
    from ..tasks import sandpile_transform

    return SandpileAvalanches(args.root, size, samples, args.target, seed,
                              transform=sandpile_transform(model), num_workers=args.workers,
                              log=not args.no_progress)  # fmt: skip


def set_threads(args: argparse.Namespace) -> None:
    """torch's CPU threads: ``--threads``, else as many as this process has CPUs (at most 8)
    unless ``OMP_NUM_THREADS`` says otherwise (:func:`sgnn._device.set_torch_threads`)."""
    from .._device import set_torch_threads

    set_torch_threads(args.threads)


def warm_up(args: argparse.Namespace) -> None:
    """Compile the sandpile kernels the transforms use before the first timed epoch
    (tens of seconds on the first run after an install, then cached)."""
    from ..sandpile import compile_kernels

    seconds = compile_kernels()
    if not args.no_progress and seconds > 1:
        print(f"compiled the sandpile kernels in {seconds:.0f} s (first use after an install; "
              "cached for later runs)", file=sys.stderr)  # fmt: skip


def run_train(args: argparse.Namespace) -> int:
    from torch_geometric import seed_everything

    from ..tasks import (
        RuleVerification,
        sandpile_model,
        train_sandpile_model,
        train_until_verified,
    )
    from ..train import History, save_checkpoint

    set_threads(args)
    args.target = args.target or "footprint"
    for key, value in SANDPILE_TRAINING[args.model].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    tic = time.perf_counter()
    try:
        train_sets = [dataset(args, L, args.num_samples, args.data_seed + k, args.model)
                      for k, L in enumerate(args.sizes)]  # fmt: skip
        val_sets = [dataset(args, L, args.val_samples, args.data_seed + 100 + k, args.model)
                    for k, L in enumerate(args.sizes)]  # fmt: skip
    except (TypeError, ValueError) as err:
        print(f"sgnn train: error: {err}", file=sys.stderr)
        return 2
    warm_up(args)

    def build(seed: int) -> Any:
        seed_everything(seed)
        return sandpile_model(args.model, args.target, args.hidden)

    def train(model: Any, seed: int) -> Any:
        return train_sandpile_model(model, train_sets, val_sets, epochs=args.epochs,
                                    lr=args.lr, target=args.target, batch_size=args.batch_size,
                                    seed=seed, patience=args.patience,
                                    progress=False if args.no_progress else None)  # fmt: skip

    config = {"model": args.model, "target": args.target, "hidden_channels": args.hidden,
              "train_sizes": list(args.sizes), "num_samples": args.num_samples,
              "epochs": args.epochs, "lr": args.lr, "data_seed": args.data_seed,
              "seed": args.seed}  # fmt: skip
    model = build(args.seed)
    verification: RuleVerification | None = None
    if hasattr(model, "local_cases"):
        model, history, verification, attempts = train_until_verified(
            build,
            train,
            args.seed,
            args.restarts,
            print_fn=None if args.no_progress else lambda line: print(line, file=sys.stderr),
        )
        config.update(seed=args.seed + attempts - 1, verified=verification.passed,
                      wrong_local_cases=verification.num_wrong)  # fmt: skip
    else:
        history = train(model, args.seed)
    settled = _settled(model, val_sets, args)
    save_checkpoint(args.out, model, config)
    params = sum(p.numel() for p in model.parameters())
    how = (f"best epoch {history.best_epoch} of {len(history.train_loss)}, validation loss "
           f"{history.best_val_loss:.4f}" if isinstance(history, History) else
           f"{args.epochs} first-wave epochs and a search over the threshold step")  # fmt: skip
    print(
        f"{args.model} ({params} parameters) trained on L = {' '.join(map(str, args.sizes))}: "
        f"{how}, {time.perf_counter() - tic:.0f} s; saved {args.out}"
    )
    problems = []
    if verification is not None:
        scope = "; exact on every lattice size and avalanche that its iteration budget covers"
        if hasattr(model, "case_count"):  # a domain bounded in the toppling count
            scope += f" and in which no site topples more than {model.case_count} times"
        print(f"{verification}" + (scope if verification.passed else ""))
        if not verification.passed:
            problems.append(
                f"the snapped rule failed its verification in all {attempts} "
                "attempts (try more --epochs, another --lr or more --restarts)"
            )
    if settled is not None:
        done, total = settled
        print(f"settled within the iteration budget on {done} of {total} validation avalanches")
        if done < total / 2:
            problems.append(f"the iteration budget ran out on {total - done} of {total} "
                            "validation avalanches")  # fmt: skip
    if problems:
        print(f"sgnn train: not converged: {'; '.join(problems)}. {args.out} was written for "
              "inspection; do not rely on it.", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _settled(model: Any, datasets: list[Any], args: argparse.Namespace) -> tuple[int, int] | None:
    """``(settled, total)`` over ``datasets`` for a recurrent model, :obj:`None` for others."""
    import torch
    from torch_geometric.loader import DataLoader

    from ..nn import RecurrentOutput

    if not hasattr(model, "recurrent"):
        return None
    model.eval()
    done = total = 0
    with torch.no_grad():
        for data in datasets:
            for batch in DataLoader(data, args.batch_size):
                result = model(batch)
                if isinstance(result, RecurrentOutput):
                    done += int(result.converged.sum())
                    total += int(result.converged.numel())
    return done, total
