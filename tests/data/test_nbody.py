"""The charged N-body simulator and dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sgnn.data import NBodyCharged, charged_energy, charged_forces, simulate_charged


def repelling_system(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Like charges never meet, so no force is clipped and the integrator's bound applies.
    rng = np.random.default_rng(seed)
    return rng.normal(size=(4, 5, 3)), 0.5 * rng.normal(size=(4, 5, 3)), np.ones((4, 5))


def test_forces_match_a_pairwise_loop_and_are_antisymmetric() -> None:
    rng = np.random.default_rng(1)
    pos, charge = rng.normal(size=(6, 3)), rng.choice([-1.0, 1.0], size=6)
    expected = np.zeros((6, 3))
    for i in range(6):
        for j in range(6):
            if i != j:
                r = pos[i] - pos[j]
                expected[i] += charge[i] * charge[j] * r / np.linalg.norm(r) ** 3
    np.testing.assert_allclose(charged_forces(pos, charge, None), expected, rtol=1e-12)
    np.testing.assert_allclose(charged_forces(pos, charge, None).sum(0), 0, atol=1e-10)
    assert np.abs(charged_forces(pos * 1e-3, charge, 100.0)).max() == 100.0  # clipped


def test_energy_error_is_first_order_and_momentum_is_conserved() -> None:
    pos, vel, charge = repelling_system()
    errors = []
    for dt, every in ((2e-3, 50), (1e-3, 100)):  # the same times, t = 0, 0.1, ..., 2
        p, v = simulate_charged(pos, vel, charge, int(2 / dt), dt, every, max_force=None)
        energy = charged_energy(p, v, charge[None])
        errors.append(np.abs(energy - energy[0]).max())
        np.testing.assert_allclose(v.sum(-2), v[0].sum(-2)[None].repeat(len(v), 0), atol=1e-9)
    # Symplectic Euler: |E(t) - E(0)| = O(dt), so halving dt halves the error.
    assert 1.6 < errors[0] / errors[1] < 2.4
    assert errors[1] < 5e-3


def test_simulate_rejects_bad_arguments() -> None:
    pos, vel, charge = repelling_system()
    with pytest.raises(ValueError, match="pos and vel"):
        simulate_charged(pos, vel[:, :4], charge, 10)
    with pytest.raises(ValueError, match="charge"):
        simulate_charged(pos, vel, charge[:, :4], 10)
    with pytest.raises(ValueError, match="finite"):
        simulate_charged(np.where(pos > 1, np.nan, pos), vel, charge, 10)
    with pytest.raises(ValueError, match="steps"):
        simulate_charged(pos, vel, charge, 0)
    with pytest.raises(ValueError, match="dt"):
        simulate_charged(pos, vel, charge, 10, dt=-1.0)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, NBodyCharged]:
    root = str(tmp_path_factory.mktemp("nbody"))
    return root, NBodyCharged(root, "test", num_samples=200, seed=3)


def test_samples_have_the_documented_shapes_and_physics(small) -> None:
    _, data = small
    g = data[0]
    assert g.pos.shape == g.vel.shape == g.y.shape == (5, 3) and g.charge.shape == (5, 1)
    assert g.edge_index.shape == (2, 20) and not (g.edge_index[0] == g.edge_index[1]).any()
    row, col = g.edge_index
    torch.testing.assert_close(g.edge_attr[:, 0], g.charge[row, 0] * g.charge[col, 0])
    assert set(torch.cat([d.charge for d in data]).view(-1).tolist()) == {-1.0, 1.0}
    # The EGNN paper's linear baseline, x + t v with t fitted, scores 0.0819 on this task.
    p, v, y = (torch.stack([d[k] for d in data]) for k in ("pos", "vel", "y"))
    t = ((y - p) * v).sum() / (v * v).sum()
    assert 0.06 < float(((p + t * v - y) ** 2).mean()) < 0.11 and 0.6 < float(t) < 0.9


def test_generation_is_deterministic_and_cached_per_parameters(small) -> None:
    root, data = small
    again = NBodyCharged(root, "test", num_samples=200, seed=3, force_reload=True)
    assert torch.equal(again.y, data.y) and torch.equal(again.pos, data.pos)
    # Sample i does not depend on how many samples are drawn.
    head = NBodyCharged(root, "test", num_samples=20, seed=3)
    assert torch.equal(head.y, data.y[: head.y.size(0)])
    other_seed = NBodyCharged(root, "test", num_samples=20, seed=4)
    other_split = NBodyCharged(root, "valid", num_samples=20, seed=3)
    assert not torch.equal(other_seed.pos, head.pos) and not torch.equal(other_split.pos, head.pos)
    names = {d.processed_file_names for d in (data, head, other_seed, other_split)}
    assert len(names) == 4 and all("dt0.001" in n and "clip100" in n for n in names)
    assert repr(head) == "NBodyCharged(20, split='test', seed=3)"


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [({"split": "dev"}, ValueError, "split"), ({"num_samples": 0}, ValueError, "num_samples"),
     ({"num_samples": 2.5}, TypeError, "num_samples"), ({"seed": -1}, ValueError, "seed"),
     ({"frame_in": 40, "frame_out": 30}, ValueError, "frame_out")],
)  # fmt: skip
def test_bad_dataset_arguments(tmp_path, kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match):
        NBodyCharged(str(tmp_path), **kwargs)


def test_forces_and_energy_check_shapes_and_size() -> None:
    pos = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"charge must have shape \(4,\)"):
        charged_forces(pos, np.ones(3))
    with pytest.raises(ValueError, match=r"vel must have the shape of pos"):
        charged_energy(pos + np.arange(4)[:, None], np.zeros((4, 2)), np.ones(4))
    # A complete graph of 30 000 particles is refused before any allocation.
    big = np.broadcast_to(np.zeros(3), (30_000, 3))
    with pytest.raises(ValueError, match=r"30000 particles need [\d.]+ GiB"):
        charged_forces(big, np.broadcast_to(np.ones(1), (30_000,)))
