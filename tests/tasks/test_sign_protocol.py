"""The sign-task protocol: restarts selected on validation orbits of the training states."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sgnn.data import HeisenbergSigns
from sgnn.magnets import canonical_states
from sgnn.tasks import fit_sign_model, orbit_validation_split, sign_accuracy, sign_logits


@pytest.fixture(scope="module")
def train(tmp_path_factory: pytest.TempPathFactory) -> HeisenbergSigns:
    root = str(tmp_path_factory.mktemp("signs"))
    return HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.1, seed=5, holdout="orbit",
                           progress=False)  # fmt: skip


def test_validation_orbits_are_disjoint_from_the_fitted_ones(train: HeisenbergSigns) -> None:
    fit, val = orbit_validation_split(train, 0.25, seed=3)
    assert sorted(torch.cat([fit, val]).tolist()) == list(range(len(train)))
    names = canonical_states(train.state.numpy(), (4, 4))
    assert not set(names[fit.numpy()]) & set(names[val.numpy()])
    every = np.unique(names)
    assert len(np.unique(names[val.numpy()])) == round(0.25 * len(every))
    again = orbit_validation_split(train, 0.25, seed=3)
    other = orbit_validation_split(train, 0.25, seed=4)
    assert torch.equal(again[1], val) and not torch.equal(other[1], val)
    with pytest.raises(ValueError, match="share"):
        orbit_validation_split(train, 1.0)


def test_a_single_orbit_cannot_be_split(tmp_path) -> None:
    tiny = HeisenbergSigns(str(tmp_path), (2, 2), j2=0.0, fraction=0.1, holdout="state",
                           progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="orbit"):
        orbit_validation_split(tiny)


def test_the_restart_with_the_best_validation_accuracy_is_kept(train: HeisenbergSigns) -> None:
    state = torch.get_rng_state()
    fit = fit_sign_model("dilated", train, restarts=2, steps=60, batch_size=64,
                         dilations=(1, 2), hidden_channels=8, seed=1, progress=False)  # fmt: skip
    assert torch.equal(torch.get_rng_state(), state)
    assert len(fit.validation_accuracy) == len(fit.final_loss) == 2
    assert fit.restart == max(range(2), key=lambda r: (fit.validation_accuracy[r],
                                                       -fit.final_loss[r]))  # fmt: skip
    # the reported validation accuracy is the kept model's, recomputed here
    _, val = orbit_validation_split(train, 0.2, seed=1)
    logits = sign_logits(fit.model, train.spins[val].long(), (4, 4), (1, 2))
    accuracy = sign_accuracy(logits, train.sign[val], train.weight[val])[1]
    assert accuracy == pytest.approx(fit.validation_accuracy[fit.restart], abs=1e-12)
    assert not fit.model.training
    # reproducible from the seed
    again = fit_sign_model("dilated", train, restarts=2, steps=60, batch_size=64,
                           dilations=(1, 2), hidden_channels=8, seed=1, progress=False)  # fmt: skip
    assert again.validation_accuracy == fit.validation_accuracy
    assert fit.reached_target
    # restarts stop at the first that reaches target_accuracy; restart 0 is the same run
    first = fit.validation_accuracy[0]
    stopped = fit_sign_model("dilated", train, restarts=2, target_accuracy=first, steps=60,
                             batch_size=64, dilations=(1, 2), hidden_channels=8, seed=1,
                             progress=False)  # fmt: skip
    assert stopped.validation_accuracy == [first] and stopped.restart == 0
    assert stopped.reached_target
    best = max(fit.validation_accuracy)
    if best < 1.0:
        missed = fit_sign_model("dilated", train, restarts=2, target_accuracy=best + 1e-9,
                                steps=60, batch_size=64, dilations=(1, 2), hidden_channels=8,
                                seed=1, progress=False)  # fmt: skip
        assert missed.validation_accuracy == fit.validation_accuracy
        assert missed.restart == fit.restart and not missed.reached_target
    for bad in (0.0, 1.5, True):
        with pytest.raises(ValueError, match="target_accuracy"):
            fit_sign_model("dilated", train, target_accuracy=bad)
    with pytest.raises(ValueError, match="restarts"):
        fit_sign_model("dilated", train, restarts=0)
    with pytest.raises(ValueError, match="lr"):
        fit_sign_model("dilated", train, lr=-1.0)
