"""The orbit hold-out of HeisenbergSigns: no test state is the image of a training state."""

from __future__ import annotations

import numpy as np
import pytest

from sgnn.data import HELD_OUT_ORBIT_SHARE, HeisenbergSigns, held_out_orbits
from sgnn.magnets import canonical_states, heisenberg_ground_state, lattice_symmetries


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("heisenberg"))


def _images(states: np.ndarray, shape: tuple[int, int]) -> set[int]:
    out = set()
    for perm in lattice_symmetries(shape):
        for s in states.tolist():
            out.add(sum(1 << int(perm[i]) for i in range(perm.size) if (s >> i) & 1))
    return out


@pytest.mark.parametrize("fraction", [0.01, 0.1])
def test_no_test_state_is_an_image_of_a_training_state(root: str, fraction: float) -> None:
    shape = (4, 4)
    train = HeisenbergSigns(root, shape, j2=0.0, fraction=fraction, seed=3, holdout="orbit")
    test = HeisenbergSigns(root, shape, j2=0.0, fraction=fraction, seed=3, holdout="orbit",
                           split="test")  # fmt: skip
    unseen = HeisenbergSigns(root, shape, j2=0.0, fraction=fraction, seed=3, holdout="orbit",
                             split="unseen")  # fmt: skip
    every = heisenberg_ground_state(shape, root=root, progress=False).states
    assert len(train) == max(1, round(fraction * len(every)))
    # brute force: every image of every training state, none in the test split
    assert not _images(train.state.numpy(), shape) & set(test.state.tolist())
    # the unseen split is everything but the training states, the test split whole orbits
    assert set(unseen.state.tolist()) == set(every.tolist()) - set(train.state.tolist())
    assert set(test.state.tolist()) <= set(unseen.state.tolist())
    names = canonical_states(test.state.numpy(), shape)
    assert np.array_equal(every[np.isin(canonical_states(every, shape), names)],
                          test.state.numpy())  # fmt: skip


def test_the_test_set_is_shared_by_every_fraction_coupling_and_seed(root: str) -> None:
    a = HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.01, seed=0, holdout="orbit",
                        split="test")  # fmt: skip
    b = HeisenbergSigns(root, (4, 4), j2=0.5, fraction=0.1, seed=4, holdout="orbit",
                        split="test")  # fmt: skip
    assert np.array_equal(a.state.numpy(), b.state.numpy())
    names = np.unique(canonical_states(a.state.numpy(), (4, 4)))
    every = np.unique(canonical_states(
        heisenberg_ground_state((4, 4), root=root, progress=False).states, (4, 4)))
    assert len(names) == round(HELD_OUT_ORBIT_SHARE * len(every))


def test_state_holdout_is_unchanged_and_named_apart(root: str) -> None:
    test = HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.05, seed=1, split="test")
    unseen = HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.05, seed=1, split="unseen")
    train = HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.05, seed=1)
    orbit = HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.05, seed=1, holdout="orbit")
    assert np.array_equal(test.state.numpy(), unseen.state.numpy())
    assert not set(train.state.tolist()) & set(test.state.tolist())
    assert orbit.processed_file_names != train.processed_file_names
    assert "holdout='orbit'" in repr(orbit)


def test_bad_holdout(root: str) -> None:
    with pytest.raises(ValueError, match="holdout"):
        HeisenbergSigns(root, (4, 4), holdout="orbits")
    with pytest.raises(TypeError, match="canonical"):
        held_out_orbits(np.array([0.5]), (4, 4))
