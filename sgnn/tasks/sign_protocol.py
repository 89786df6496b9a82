r"""A training protocol for the sign task that finds the rule on (nearly) every seed:
restarts, selected on validation orbits held out of the training states.

A single training run of the sign task is bimodal: it either finds the sign rule or
memorises its training states (training loss near zero) and scores little better than
chance outside their symmetry orbits. The training loss cannot tell the two apart; a
validation set of *orbits* can. :func:`fit_sign_model` holds out a share of the
orbits of the training states (never a state of the test set, which holds whole other
orbits under ``holdout="orbit"``), trains restarts on the rest and keeps the one with
the best sign accuracy on the held-out orbits. With ``target_accuracy`` it stops as soon
as a restart reaches it: runs that find the rule score near 1 on validation orbits and
runs that memorise score far below, so restarting until one passes turns a per-run
success rate :math:`p` into a failure rate :math:`(1 - p)^{r}` for at most :math:`r`
restarts, at an expected cost of about :math:`1/p` runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.nn import Module
from torch_geometric.data import Batch

from .._checks import check_positive_int
from ..data.heisenberg import HeisenbergSigns
from ..magnets import canonical_states
from .magnetic import sign_accuracy, sign_logits, sign_model, train_sign_model

__all__ = ["SignFit", "fit_sign_model", "orbit_validation_split"]


class _Part:
    """The states ``index`` of a :class:`~sgnn.data.HeisenbergSigns`, with what
    :func:`~sgnn.tasks.train_sign_model` reads (``weight``, ``lattice_batch``)."""

    def __init__(self, dataset: HeisenbergSigns, index: Tensor) -> None:
        self.dataset, self.index = dataset, index
        self.weight = dataset.weight[index]

    def __len__(self) -> int:
        return self.index.numel()

    def lattice_batch(self, index: Tensor, dilations: Sequence[int] = (1,)) -> Batch:
        return self.dataset.lattice_batch(self.index[index], dilations)


def orbit_validation_split(dataset: HeisenbergSigns, share: float = 0.2, seed: int = 0
                           ) -> tuple[Tensor, Tensor]:  # fmt: skip
    r"""Indices ``(fit, validation)`` of ``dataset``'s states: a random ``share`` of the
    symmetry orbits they fall in (:func:`~sgnn.magnets.canonical_states`) is the
    validation part, so that no validation state is the image of a state fitted on.

    Both parts are non-empty when the states span at least two orbits (else a
    ``ValueError``).
    """
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share < 1:
        raise ValueError(f"share must be a float in (0, 1), got {share!r}")
    names = canonical_states(dataset.state.numpy(), dataset.shape)
    unique = np.unique(names)
    if len(unique) < 2:
        raise ValueError(f"the {len(dataset)} training states span {len(unique)} symmetry "
                         f"orbit: a validation split needs at least 2 (raise the fraction)")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7A1D]))
    count = min(max(1, round(share * len(unique))), len(unique) - 1)
    held = unique[rng.permutation(len(unique))[:count]]
    validation = np.isin(names, held)
    return (torch.from_numpy(np.flatnonzero(~validation)),
            torch.from_numpy(np.flatnonzero(validation)))  # fmt: skip


@dataclass
class SignFit:
    r"""What :func:`fit_sign_model` returns.

    Attributes:
        model (torch.nn.Module): The selected restart, in eval mode.
        restart (int): Its index.
        validation_accuracy (list[float]): Sign accuracy of every restart run on the
            validation states (their plain mean: they were drawn
            :math:`\propto |\psi|^2`).
        final_loss (list[float]): Mean training loss of every restart run over its
            last 50 steps.
        reached_target (bool): Whether the selected restart reached the
            ``target_accuracy`` asked of :func:`fit_sign_model` (:obj:`True` when none
            was asked).
    """

    model: Module
    restart: int
    validation_accuracy: list[float]
    final_loss: list[float]
    reached_target: bool = True


def fit_sign_model(name: str, dataset: HeisenbergSigns, restarts: int = 3,
                   validation_share: float = 0.2, hidden_channels: int = 16,
                   dilations: Sequence[int] = (1, 2, 3, 1), steps: int = 2000,
                   batch_size: int = 256, lr: float | None = None, seed: int = 0,
                   sampling: str = "weight", progress: bool | None = None,
                   target_accuracy: float | None = None) -> SignFit:  # fmt: skip
    r"""Train up to ``restarts`` models of the sign task (:func:`~sgnn.tasks.sign_model`)
    on the training states outside a validation share of their orbits
    (:func:`orbit_validation_split`), and keep the restart with the best sign accuracy
    on the validation orbits (ties: the lower final training loss). With
    ``target_accuracy``, restarts stop as soon as one reaches that validation accuracy.

    Only training data are used; the test set is never seen. Restart :math:`r` draws
    its weights from ``torch.manual_seed`` of a number derived from ``(seed, r)``
    inside :func:`torch.random.fork_rng`, so the global RNG is left alone.

    Args:
        name (str): One of :data:`~sgnn.tasks.SIGN_MODELS`.
        dataset (HeisenbergSigns): The training states.
        restarts (int, optional): Models trained, at most. (default: ``3``)
        validation_share (float, optional): Share of the orbits held out.
            (default: ``0.2``)
        hidden_channels, dilations: As in :func:`~sgnn.tasks.sign_model`.
        steps, batch_size, sampling, progress: As in :func:`~sgnn.tasks.train_sign_model`.
        lr (float, optional): Adam's learning rate (default: :obj:`None`, ``1e-2`` for
            the MLP and ``3e-3`` for the lattice models).
        seed (int, optional): Seed of the split, the weights and the minibatches.
            (default: ``0``)
        target_accuracy (float, optional): Stop restarting once a restart's validation
            accuracy reaches this (a float in (0, 1]); :obj:`None` trains all
            ``restarts``. (default: :obj:`None`)
    """
    check_positive_int(restarts, "restarts")
    if target_accuracy is not None and not (
            isinstance(target_accuracy, (int, float)) and not isinstance(target_accuracy, bool)
            and 0 < target_accuracy <= 1):  # fmt: skip
        raise ValueError(f"target_accuracy must be None or a float in (0, 1], "
                         f"got {target_accuracy!r}")  # fmt: skip
    lr = (1e-2 if name == "mlp" else 3e-3) if lr is None else lr
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite float, got {lr!r}")
    fit_index, val_index = orbit_validation_split(dataset, validation_share, seed)
    fit_part = _Part(dataset, fit_index)
    spins = dataset.spins[val_index].long()
    sign, weight = dataset.sign[val_index], dataset.weight[val_index]
    models, accuracy, losses = [], [], []
    for r in range(restarts):
        with torch.random.fork_rng():
            torch.manual_seed(int(np.random.SeedSequence([seed, r, 0x51]).generate_state(1)[0]))
            model = sign_model(name, dataset.num_sites, hidden_channels, dilations)
        history = train_sign_model(model, fit_part, steps=steps, batch_size=batch_size,  # type: ignore[arg-type]
                                   lr=lr, dilations=dilations, seed=seed * 1009 + r,
                                   sampling=sampling, progress=progress)  # fmt: skip
        logits = sign_logits(model, spins, dataset.shape, dilations)
        models.append(model)
        # The plain mean: the validation states were drawn ~ |psi|^2 already, and
        # weighting them again would let the one or two heaviest orbits decide.
        accuracy.append(float(sign_accuracy(logits, sign, weight)[1]))
        losses.append(float(np.mean(history[-50:])))
        if target_accuracy is not None and accuracy[-1] >= target_accuracy:
            break
    best = max(range(len(models)), key=lambda r: (accuracy[r], -losses[r]))
    reached = target_accuracy is None or accuracy[best] >= target_accuracy
    return SignFit(models[best], best, accuracy, losses, reached)
