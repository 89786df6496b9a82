r"""The staged training of :class:`~sgnn.tasks.CountAutomaton`.

:func:`train_count_automaton` learns the counting rule in stages (a teacher-forced first
wave, a search over the threshold step by :func:`search_gamma`, fine-tuning, snapping
and verification); :func:`multi_wave` tells which avalanches need more than the first
wave, to oversample them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import Parameter
from torch_geometric.data import Batch

from ..data import DROP_SITE_COLUMN, sandpile_heights
from ..sandpile import first_wave
from .count_automaton import _SUPERVISIONS, CountAutomaton
from .local_rules import verify_rule

__all__ = ["multi_wave", "search_gamma", "train_count_automaton"]


def multi_wave(data: Any, supervision: str) -> bool:
    """Whether an avalanche needs more than the first wave, as the supervision can tell:
    some site topples twice (``"counts"``), or the toppled set is larger than the first
    wave computed from the input (``"footprint"``)."""
    if supervision not in _SUPERVISIONS:
        raise ValueError(f"supervision must be one of {_SUPERVISIONS}, got {supervision!r}")
    if supervision == "counts":
        return int(data.topplings.max()) >= 2
    h, w = (int(v) for v in torch.as_tensor(data.lattice_shape).view(-1)[:2])
    z = sandpile_heights(data.x).reshape(h, w).numpy()
    site = int(data.x[:, DROP_SITE_COLUMN].argmax())
    wave = torch.from_numpy(first_wave(z, divmod(site, w)).reshape(-1))
    return bool(((data.toppled > 0) & ~wave).any())


def _batches(data: Sequence[Any], batch_size: int, weights: np.ndarray | None,
             rng: np.random.Generator) -> list[Any]:  # fmt: skip
    """One epoch of batches of equal-size lattices, drawn uniformly or by ``weights``."""
    if weights is None:
        order = rng.permutation(len(data))
    else:
        order = rng.choice(len(data), size=len(data), p=weights / weights.sum())
    by_size: dict[int, list[int]] = {}
    for i in order.tolist():
        by_size.setdefault(int(data[i].num_nodes), []).append(i)
    chunks = [idx[s : s + batch_size] for idx in by_size.values()
              for s in range(0, len(idx), batch_size)]  # fmt: skip
    return [Batch.from_data_list([data[i] for i in chunks[c]])
            for c in rng.permutation(len(chunks)).tolist()]  # fmt: skip


def _run_epochs(model: CountAutomaton, data: Sequence[Any], epochs: int, lr: float,
                batch_size: int, weights: np.ndarray | None, seed: int,
                deadline: float | None, print_fn: Callable[[str], None] | None,
                params: list[Parameter] | None = None, name: str = "",
                **loss_kwargs: Any) -> list[float]:  # fmt: skip
    optimizer = torch.optim.Adam(params or list(model.parameters()), lr=lr)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for epoch in range(epochs):
        total, count = 0.0, 0
        for batch in _batches(data, batch_size, weights, rng):
            optimizer.zero_grad()
            loss = model.training_loss(batch, generator=generator, **loss_kwargs)
            loss.backward()
            optimizer.step()
            total, count = total + float(loss.detach()), count + 1
            if deadline is not None and time.monotonic() > deadline:
                break
        losses.append(total / max(count, 1))
        if print_fn is not None:
            ratio = float((model.rule.step_size() / model.rule.beta).detach())
            print_fn(f"{name} epoch {epoch + 1}: loss {losses[-1]:.4f} gamma/beta {ratio:.3f}")
        if deadline is not None and time.monotonic() > deadline:
            break
    return losses


def _fit_score(model: CountAutomaton, data: Sequence[Any], supervision: str) -> float:
    """Fraction of avalanches of ``data`` reproduced exactly (toppled set or counts)."""
    batch = Batch.from_data_list(list(data))
    with torch.no_grad():
        n = model(batch).state[:, 0]
    if supervision == "footprint":
        wrong = (n > 0) != (batch.toppled > 0)
    else:
        wrong = n != batch.topplings.to(n)
    per_graph = torch.zeros(batch.num_graphs).index_add_(0, batch.batch, wrong.float())
    return float((per_graph == 0).double().mean())


def search_gamma(model: CountAutomaton, data: Sequence[Any],
                 ratios: Sequence[float] | None = None) -> tuple[float, float]:  # fmt: skip
    r"""Set :math:`\gamma` to the value, among ``ratios`` times :math:`\beta` (default
    :math:`2, 2.125, \dots, 8`), under which the most avalanches of ``data`` come out
    exactly in the model's supervision (toppled set or counts); ties go to the largest
    :math:`\gamma`, the closest to the first wave. The search goes down from the
    largest ratio and stops once the score falls below half the best (smaller steps
    only make the counts run away). Returns ``(gamma, score)``."""
    ratios = ratios if ratios is not None else np.round(np.arange(2.0, 8.01, 0.125), 3)
    beta = float(model.rule.beta.detach())
    best = (float(model.rule.gamma.detach()), -1.0)
    if not beta > 0:  # no neighbour term: the step cannot matter
        return best
    for r in sorted(ratios, reverse=True):
        with torch.no_grad():
            model.rule.gamma.fill_(r * beta)
        score = _fit_score(model, data, model.supervision)
        if score > best[1]:
            best = (r * beta, score)
        elif score < best[1] / 2:
            break
    with torch.no_grad():
        model.rule.gamma.fill_(best[0])
    return best


def train_count_automaton(
    model: CountAutomaton,
    data: Sequence[Any],
    epochs: int = 0,
    warm_epochs: int = 10,
    lr: float = 0.1,
    batch_size: int = 32,
    oversample: float = 0.0,
    gamma_search: bool = True,
    snap: bool = True,
    teacher_forcing: bool | None = None,
    warm_teacher_forcing: bool = True,
    seed: int = 0,
    time_limit: float | None = None,
    print_fn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    r"""Train a :class:`CountAutomaton` in stages: first wave, threshold step, fine-tuning.

    1. *Warm start* (``warm_epochs > 0``): the rule is trained with one
       threshold (counts capped at 1, :math:`\gamma` frozen), whose least fixed
       point is the first wave: a linear threshold problem the data constrain
       well. By default teacher-forced (``warm_teacher_forcing``): the rule is
       applied once to the true toppled set, which needs only what an observer
       sees.
    2. *Threshold step* (``gamma_search``): :math:`\gamma` is set by a 1-D
       search over :math:`\gamma / \beta \in [2, 8]` on the training data
       (:func:`search_gamma`).
    3. *Fine-tuning* (``epochs``): every weight, with :meth:`CountAutomaton.training_loss`.
    4. *Snapping* (``snap``): :meth:`CountAutomaton.snap` (normalise to
       :math:`\beta = 1`, then :func:`~sgnn.tasks.snap_rule`), the rounded rule
       kept only if it verifies.

    Args:
        model (CountAutomaton): The model, trained in place.
        data (Sequence[Data]): Footprint samples (lattices of any sizes).
        epochs (int, optional): Fine-tuning epochs. (default: ``0``: the
            defaults, first wave and search, give the exact rule from footprints
            and from counts alike)
        warm_epochs (int, optional): First-wave epochs (0: none, the rule
            is trained from its initial weights). (default: ``10``)
        lr (float, optional): Adam's learning rate. (default: ``0.1``)
        batch_size (int, optional): Avalanches per batch. (default: ``32``)
        oversample (float, optional): Extra weight of the avalanches that
            need more than one wave (:func:`multi_wave`): each is drawn
            ``1 + oversample`` times as often. (default: ``0.0``)
        gamma_search (bool, optional): Run stage 2. (default: :obj:`True`)
        snap (bool, optional): Run stage 4. (default: :obj:`True`)
        teacher_forcing (bool, optional): Passed to
            :meth:`CountAutomaton.training_loss` in stage 3.
            (default: :obj:`None`, the model's default)
        warm_teacher_forcing (bool, optional): ``teacher_forcing`` of stage 1.
            (default: :obj:`True`)
        seed (int, optional): Seed of the batch order and iteration draws.
            (default: ``0``)
        time_limit (float, optional): Seconds after which training stops
            (checked after every batch). (default: :obj:`None`)
        print_fn (Callable, optional): Receives one line per epoch and stage.

    Returns:
        dict: ``losses`` (per epoch), ``gamma_score`` (stage 2's fraction of
        exact training avalanches, or :obj:`None`), ``verification``
        (:class:`~sgnn.tasks.RuleVerification` after stage 4 or of the
        unsnapped rule), ``seconds``.
    """
    if not isinstance(model, CountAutomaton):
        raise TypeError(f"model must be a CountAutomaton, got {type(model).__name__}")
    for name, value in (("epochs", epochs), ("warm_epochs", warm_epochs),
                        ("batch_size", batch_size)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not len(data):
        raise ValueError("data must hold at least one sample")
    start = time.monotonic()
    deadline = None if time_limit is None else start + time_limit
    weights = None
    if oversample > 0:
        weights = 1.0 + oversample * np.array([multi_wave(d, model.supervision) for d in data])
    losses: list[float] = []
    if warm_epochs:
        model.rule.max_count = 1
        params = [model.rule.lin.weight, model.rule.lin.bias, model.rule.beta]
        losses += _run_epochs(model, data, warm_epochs, lr, batch_size, weights, seed,
                              deadline, print_fn, params, "first wave",
                              teacher_forcing=warm_teacher_forcing)  # fmt: skip
        model.rule.max_count = model.max_count
    gamma_score = None
    if gamma_search:
        probe = list(data)[:: max(1, len(data) // 256)]
        gamma, gamma_score = search_gamma(model, probe)
        if print_fn is not None:
            ratio = gamma / float(model.rule.beta)
            print_fn(f"gamma search: gamma {gamma:.3f} (gamma/beta {ratio:.3f}), "
                f"training exact {gamma_score:.3f}")  # fmt: skip
    if epochs:
        losses += _run_epochs(model, data, epochs, lr, batch_size, weights, seed + 1, deadline,
                              print_fn, None, "fine-tune",
                              teacher_forcing=teacher_forcing)  # fmt: skip
    verification = model.snap() if snap else verify_rule(model)
    if print_fn is not None:
        print_fn(f"snap: {verification}" if snap else f"{verification}")
    return {"losses": losses, "gamma_score": gamma_score, "verification": verification,
            "seconds": time.monotonic() - start}  # fmt: skip
