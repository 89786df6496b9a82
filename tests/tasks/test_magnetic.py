"""The sign task: the dataset of basis states, spin batches, the models and their metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from sgnn.data import AddDilatedEdges, HeisenbergSigns, equal_size_batch, lattice_graph, spin_batch
from sgnn.magnets import heisenberg_ground_state, marshall_sign
from sgnn.nn import LatticeGNN
from sgnn.pool import dilated_edge_key
from sgnn.tasks import (
    SIGN_MODELS,
    SpinMLP,
    sign_accuracy,
    sign_logits,
    sign_model,
    train_sign_model,
)
from sgnn.testing import assert_lattice_symmetric


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("magnets"))


def test_dataset_splits_and_items(root: str) -> None:
    train = HeisenbergSigns(root, (4, 4), j2=0.5, fraction=0.05, seed=1)
    test = HeisenbergSigns(root, (4, 4), j2=0.5, fraction=0.05, seed=1, split="test")
    gs = heisenberg_ground_state((4, 4), j2=0.5, root=root)
    assert len(train) == round(0.05 * 12870) and len(train) + len(test) == 12870
    # Disjoint, together the whole basis; signs, weights and spins are the ground state's.
    states = torch.cat([train.state, test.state]).sort().values.numpy()
    np.testing.assert_array_equal(states, gs.states)
    pos = np.searchsorted(gs.states, train.state.numpy())
    np.testing.assert_array_equal(train.sign.numpy(), gs.signs[pos])
    np.testing.assert_allclose(train.weight.numpy(), gs.probabilities[pos])
    np.testing.assert_array_equal(train.spins.numpy(), gs.spins(pos).reshape(len(pos), 16))
    # Drawn ~ |psi|^2: the training states carry far more than 5 % of the weight.
    assert train.weight.sum() > 0.3
    item = train[3]
    assert item.x.shape == (16, 1) and item.edge_index.shape == (2, 64)
    assert int(item.y) == int(train.sign[3] > 0) and item.lattice_shape.tolist() == [[4, 4]]
    # Cached and keyed: the same parameters reload, another seed draws other states.
    again = HeisenbergSigns(root, (4, 4), j2=0.5, fraction=0.05, seed=1)
    assert torch.equal(again.state, train.state)
    other = HeisenbergSigns(root, (4, 4), j2=0.5, fraction=0.05, seed=2)
    assert not torch.equal(other.state, train.state)


def test_marshall_rotated_target(root: str) -> None:
    plain = HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.05)
    rotated = HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.05, marshall_rotated=True)
    assert torch.equal(plain.state, rotated.state)
    assert torch.all(rotated.sign == 1)  # Marshall's rule is exact at J2 = 0
    marshall = torch.from_numpy(marshall_sign(plain.state.numpy(), (4, 4)))
    assert torch.equal(plain.sign, marshall)


def test_lattice_batch_matches_collation(root: str) -> None:
    ds = HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.05)
    index = [5, 0, 17]
    fast = ds.lattice_batch(index, dilations=(1, 2))
    slow = Batch.from_data_list([ds[i] for i in index])
    for key in ("x", "edge_index", "y", "sign", "weight", "state", "batch", "ptr"):
        assert torch.equal(fast[key], slow[key]), key
    key2 = dilated_edge_key(2)
    assert fast[key2].shape == (2, 3 * 32) and int(fast[key2].max()) == 47
    with pytest.raises(ValueError, match="at least one state of 16 entries"):
        spin_batch(torch.ones(2, 15), (4, 4))
    with pytest.raises(ValueError, match="at least one state"):
        spin_batch(torch.ones(0, 16), (4, 4))
    with pytest.raises(ValueError, match="shape"):
        equal_size_batch(2, 4, edge_indices={"edge_index_dilation_2": torch.zeros(3, 2)})


def test_dataset_arguments(root: str) -> None:
    for kwargs, error in [({"fraction": 0.0}, ValueError), ({"fraction": 1.5}, ValueError),
                          ({"fraction": "0.1"}, TypeError), ({"split": "valid"}, ValueError),
                          ({"seed": -1}, ValueError), ({"shape": (3, 3)}, ValueError),
                          ({"j2": float("inf")}, ValueError)]:  # fmt: skip
        with pytest.raises(error):
            HeisenbergSigns(root, **{"shape": (4, 4), **kwargs})


def test_models_are_comparable_and_invariant() -> None:
    models = {name: sign_model(name, 24, hidden_channels=16) for name in SIGN_MODELS}
    counts = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
    assert counts["dilated"] == counts["plain"]
    assert abs(counts["mlp"] - counts["dilated"]) < 0.05 * counts["dilated"]
    assert models["dilated"].dilations == (1, 2, 3) and models["plain"].dilations == (1, 1, 1)
    torch.manual_seed(0)
    spins = torch.randint(0, 2, (3, 24)).double() * 2 - 1
    data = spin_batch(spins, (6, 4), dilations=(1, 2, 3), dtype=torch.float64)
    model = models["dilated"].double()
    # One output per graph, unchanged by any periodic translation of a spin image.
    out = model(data)
    assert out.shape == (3, 1)
    for shift in [(1, 0), (0, 1), (2, 3)]:
        moved = torch.roll(spins.view(3, 6, 4), shift, dims=(1, 2)).reshape(3, 24)
        again = model(spin_batch(moved, (6, 4), dilations=(1, 2, 3), dtype=torch.float64))
        torch.testing.assert_close(again, out, rtol=1e-10, atol=1e-10)
    # The MLP is no such thing.
    mlp = models["mlp"].double()
    moved = torch.roll(spins.view(3, 6, 4), 1, dims=1).reshape(3, 24)
    assert not torch.allclose(mlp(spin_batch(moved, (6, 4), dtype=torch.float64)),
                              mlp(spin_batch(spins, (6, 4), dtype=torch.float64)))  # fmt: skip
    with pytest.raises(ValueError, match="name must be one of"):
        sign_model("cnn", 24)


def test_lattice_gnn_graph_readout_is_d4_invariant() -> None:
    model = LatticeGNN(1, 8, 2, dilations=(1, 2), graph_aggr="sum")
    torch.manual_seed(1)
    data = Data(x=(torch.randint(0, 2, (16, 1)) * 2 - 1).double(),
                edge_index=lattice_graph((4, 4), "periodic")[0],
                lattice_shape=torch.tensor([[4, 4]]))  # fmt: skip
    assert_lattice_symmetric(model, data, output="graph",
                             prepare=AddDilatedEdges([2], boundary="periodic"))  # fmt: skip
    assert "graph_aggr='sum'" in repr(model)


def test_spin_mlp_shapes() -> None:
    mlp = SpinMLP(16, 8, num_layers=2)
    assert mlp(spin_batch(torch.ones(5, 16), (4, 4))).shape == (5, 1)
    with pytest.raises(ValueError, match=r"\(B \* 16, 1\)"):
        mlp(spin_batch(torch.ones(5, 24), (6, 4)))
    with pytest.raises(ValueError, match="num_layers must be >= 2"):
        SpinMLP(16, 8, num_layers=1)


def test_sign_logits_refuses_a_model_of_another_size() -> None:
    """An MLP built for 8 sites once read 5 states of 16 spins as 10 states of 8."""
    spins = torch.ones(5, 16)
    with pytest.raises(ValueError, match=r"num_sites=8 but shape \(4, 4\) has 16 sites"):
        sign_logits(sign_model("mlp", 8), spins, (4, 4))

    class Pairs(torch.nn.Module):  # any model returning other than one logit per state
        def forward(self, data: Batch) -> torch.Tensor:
            return data.x.view(-1, 8).sum(dim=1)

    with pytest.raises(ValueError, match="returned 10 logits for 5 states"):
        sign_logits(Pairs(), spins, (4, 4))
    assert sign_logits(sign_model("mlp", 16), spins, (4, 4)).shape == (5,)


def test_sign_accuracy_by_hand() -> None:
    logits = torch.tensor([2.0, -1.0, 0.5, -3.0, 1.0])
    sign = torch.tensor([1, 1, -1, -1, 0])
    weight = torch.tensor([0.4, 0.1, 0.2, 0.2, 0.1])
    weighted, plain = sign_accuracy(logits, sign, weight)
    assert weighted == pytest.approx(0.6 / 0.9) and plain == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one entry per state"):
        sign_accuracy(logits, sign[:3], weight)
    with pytest.raises(ValueError, match="no state carries a sign"):
        sign_accuracy(logits, torch.zeros(5), weight)


def test_training_learns_marshall_signs(root: str) -> None:
    # The MLP learns Marshall's rule on 4 x 4 from 10 % of the basis in seconds.
    train = HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.1)
    test = HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.1, split="test")
    torch.manual_seed(0)
    model = sign_model("mlp", 16, mlp_hidden_channels=64)
    before = sign_accuracy(sign_logits(model, test.spins, (4, 4)), test.sign, test.weight)
    losses = train_sign_model(model, train, steps=2000, lr=1e-2, progress=False)
    after = sign_accuracy(sign_logits(model, test.spins, (4, 4)), test.sign, test.weight)
    assert np.mean(losses[-50:]) < 0.1 < np.mean(losses[:50])
    assert after[0] > 0.9 and after[0] > before[0] + 0.3
    with pytest.raises(ValueError, match="lr"):
        train_sign_model(model, train, lr=-1.0)
    with pytest.raises(ValueError, match="sampling must be one of"):
        train_sign_model(model, train, sampling="importance")


def test_uniform_minibatches_learn_marshall_signs_too(root: str) -> None:
    train = HeisenbergSigns(root, (4, 4), j2=0.0, fraction=0.1)
    torch.manual_seed(0)
    model = sign_model("mlp", 16, mlp_hidden_channels=64)
    losses = train_sign_model(model, train, steps=2000, lr=1e-2, sampling="uniform",
                              progress=False)  # fmt: skip
    assert np.mean(losses[-50:]) < 0.1


@pytest.mark.parametrize("sampling", ["weight", "uniform"])
def test_training_is_seeded_and_leaves_the_global_rng_alone(root: str, sampling: str) -> None:
    train = HeisenbergSigns(root, (4, 4), j2=0.5, fraction=0.05)

    def run(seed: int) -> tuple[list[float], torch.Tensor]:
        torch.manual_seed(0)
        model = sign_model("mlp", 16, mlp_hidden_channels=8)
        state = torch.get_rng_state()
        losses = train_sign_model(model, train, steps=6, batch_size=32, seed=seed,
                                  sampling=sampling, progress=False)  # fmt: skip
        assert torch.equal(torch.get_rng_state(), state)  # draws from its own generator
        assert not model.training and len(losses) == 6
        return losses, model.net[0].weight.detach().clone()

    (a, wa), (b, wb), (c, _) = run(1), run(1), run(2)
    assert a == b and torch.equal(wa, wb) and a != c
