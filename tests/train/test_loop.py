"""fit/evaluate: reproducibility, early stopping, checkpoints loaded with weights_only."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from torch_geometric import seed_everything
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from sgnn.nn import DeepSetsLayer
from sgnn.train import (
    History,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
    unwrap_model,
)


def toy_sets(n: int, seed: int) -> list[Data]:
    """Sets of numbers; target: each element minus the set's mean (learnable by DeepSets)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.randn(int(torch.randint(3, 9, (1,), generator=g)), 1, generator=g)
        out.append(Data(x=x, y=x - x.mean(0)))
    return out


def mse(model: torch.nn.Module, batch: Data) -> torch.Tensor:
    return torch.nn.functional.mse_loss(model(batch.x, batch.batch), batch.y)


def mse_metric(output: torch.Tensor, batch: Data) -> torch.Tensor:
    return torch.nn.functional.mse_loss(output, batch.y)


def call(model: torch.nn.Module, batch: Data) -> torch.Tensor:
    """How a DeepSetsLayer is called on a batch (evaluate's ``forward``)."""
    return model(batch.x, batch.batch)


def train_once(tmp_path: Path, seed: int = 0, epochs: int = 5) -> tuple[DeepSetsLayer, History]:
    seed_everything(seed)
    model = DeepSetsLayer(1, 1)
    train = DataLoader(toy_sets(64, 1), batch_size=16, shuffle=True)
    val = DataLoader(toy_sets(32, 2), batch_size=16)
    history = fit(model, mse, train, val, epochs=epochs, lr=0.05, checkpoint=tmp_path / "c.pt",
                  config={"in": 1, "out": 1}, progress=False)  # fmt: skip
    return model, history


def test_fit_learns_and_is_reproducible(tmp_path: Path) -> None:
    m1, h1 = train_once(tmp_path)
    m2, h2 = train_once(tmp_path)
    for a, b in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(a, b)
    assert h1.train_loss == h2.train_loss
    assert h1.val_loss[-1] < 0.5 * h1.val_loss[0]
    assert h1.best_val_loss == min(h1.val_loss) and len(h1.val_loss) == 5


def test_best_weights_restored_and_checkpointed(tmp_path: Path) -> None:
    model, history = train_once(tmp_path, epochs=8)
    payload = load_checkpoint(tmp_path / "c.pt")
    assert payload["config"] == {"in": 1, "out": 1} and payload["epoch"] == history.best_epoch
    fresh = DeepSetsLayer(1, 1)
    load_checkpoint(tmp_path / "c.pt", fresh)
    for a, b in zip(model.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(a, b)
    val = DataLoader(toy_sets(32, 2), batch_size=16)
    got = evaluate(fresh, val, {"loss": mse_metric}, forward=call)["loss"]
    assert got == pytest.approx(history.best_val_loss)


def test_early_stopping() -> None:
    seed_everything(0)
    model = DeepSetsLayer(1, 1)
    calls = []

    def unlucky(model: torch.nn.Module, batch: Data) -> torch.Tensor:
        # Validation gets worse every epoch (training never sees this loss rise).
        calls.append(1)
        return mse(model, batch) + (0.0 if model.training else float(len(calls)))

    history = fit(model, unlucky, DataLoader(toy_sets(8, 0), batch_size=4),
                  DataLoader(toy_sets(4, 1), batch_size=4), epochs=50, patience=2,
                  progress=False)  # fmt: skip
    assert history.stopped_early and history.best_epoch == 0 and len(history.val_loss) == 3


def test_validation_every_few_epochs_and_scheduler() -> None:
    seed_everything(0)
    model = DeepSetsLayer(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = fit(model, mse, DataLoader(toy_sets(8, 0), batch_size=4),
                  DataLoader(toy_sets(4, 1), batch_size=4), epochs=7, val_every=3,
                  optimizer=optimizer, scheduler=scheduler, progress=False)  # fmt: skip
    assert history.val_epochs == [2, 5, 6] and len(history.val_loss) == 3
    assert len(history.train_loss) == 7
    assert history.best_epoch in history.val_epochs
    assert history.best_val_loss == min(history.val_loss)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**7)
    with pytest.raises(ValueError, match="val_every"):
        fit(model, mse, DataLoader(toy_sets(8, 0), batch_size=4), epochs=1, val_every=0)


def test_evaluate_per_graph_metrics_and_nan() -> None:
    model = DeepSetsLayer(1, 1)
    loader = DataLoader(toy_sets(10, 3), batch_size=4)
    out = evaluate(model, loader, {
        "ones": lambda out, b: torch.ones(b.num_graphs),
        "index": lambda out, b: torch.arange(b.num_graphs, dtype=torch.float64),
        "nan": lambda out, b: torch.full((b.num_graphs,), float("nan")),
        "mixed": lambda out, b: torch.tensor([float("nan")] + [2.0] * (b.num_graphs - 1)),
    }, forward=call)  # fmt: skip
    assert out["ones"] == 1.0
    assert out["index"] == pytest.approx((0 + 1 + 2 + 3) * 2 / 10 + (0 + 1) / 10)
    assert out["nan"] != out["nan"]
    assert out["mixed"] == 2.0  # NaNs are left out, not counted as zeros


def test_evaluate_calls_the_model_once_per_batch_and_hands_its_output_to_every_metric() -> None:
    class Recording(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(1, 1)
            self.outputs: list[tuple[torch.Tensor, bool, bool]] = []

        def forward(self, batch: Data) -> torch.Tensor:
            out = self.lin(batch.x)
            self.outputs.append((out, self.training, torch.is_grad_enabled()))
            return out

    model = Recording()
    seen = []

    def metric(out: torch.Tensor, batch: Data) -> torch.Tensor:
        seen.append(out)
        return torch.nn.functional.mse_loss(out, batch.y)

    data = toy_sets(10, 3)
    result = evaluate(model, DataLoader(data, batch_size=4), {"a": metric, "b": metric})
    assert len(model.outputs) == 3  # one call per batch, not one per metric
    assert [o for o, _, _ in model.outputs for _ in range(2)] == seen  # the very outputs
    assert all(not training and not grad for _, training, grad in model.outputs)
    assert model.training  # restored
    with torch.no_grad():  # each batch's value weighted by its number of graphs
        expected = sum(b.num_graphs * metric(model.lin(b.x), b).item()
                       for b in DataLoader(data, batch_size=4)) / 10  # fmt: skip
    assert result["a"] == result["b"] == pytest.approx(expected)
    # A predictor that is no module: a plain function of the batch.
    heuristic = evaluate(lambda b: torch.zeros_like(b.y), DataLoader(data, batch_size=4),
                         {"mse": metric})  # fmt: skip
    assert heuristic["mse"] > 0


def test_unwrap_model_unwraps_data_parallel_only() -> None:
    model = DeepSetsLayer(1, 1)
    wrapped = torch.nn.DataParallel(model)
    assert unwrap_model(wrapped) is model and unwrap_model(model) is model

    class HasModule(torch.nn.Module):  # an attribute named module is no wrapper
        def __init__(self) -> None:
            super().__init__()
            self.module = torch.nn.Linear(1, 1)
            self.head = torch.nn.Linear(1, 1)

    own = HasModule()
    assert unwrap_model(own) is own


def test_checkpoints_of_a_wrapped_model_have_the_plain_keys(tmp_path: Path) -> None:
    model = DeepSetsLayer(1, 1)
    save_checkpoint(tmp_path / "c.pt", torch.nn.DataParallel(model))
    payload = load_checkpoint(tmp_path / "c.pt", DeepSetsLayer(1, 1))
    assert set(payload["state_dict"]) == set(model.state_dict())
    fresh = DeepSetsLayer(1, 1)
    load_checkpoint(tmp_path / "c.pt", torch.nn.DataParallel(fresh))  # into a wrapped one
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters(),
                                                 strict=True))  # fmt: skip


def test_without_validation_the_last_weights_are_kept() -> None:
    seed_everything(0)
    model = DeepSetsLayer(1, 1)
    states = []

    def record(epoch: int, history: History) -> None:
        states.append(copy.deepcopy(model.state_dict()))

    history = fit(model, mse, DataLoader(toy_sets(8, 0), batch_size=4), epochs=3, lr=0.1,
                  progress=False, on_epoch_end=record)  # fmt: skip
    assert history.best_epoch == 2 and history.val_loss == []
    assert math.isnan(history.best_val_loss)
    assert all(torch.equal(v, states[-1][k]) for k, v in model.state_dict().items())
    assert not all(torch.equal(v, states[0][k]) for k, v in model.state_dict().items())


def test_checkpoint_rejects_non_json_config_and_is_atomic(tmp_path: Path, monkeypatch) -> None:
    model = DeepSetsLayer(1, 1)
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(tmp_path / "x.pt", model, {"f": object()})

    def broken(obj, path):
        Path(path).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "x.pt", model)
    assert list(tmp_path.iterdir()) == []


def test_fit_rejects_bad_arguments() -> None:
    model = DeepSetsLayer(1, 1)
    loader = DataLoader(toy_sets(4, 0), batch_size=4)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, mse, loader, epochs=0)
    with pytest.raises(ValueError, match="patience"):
        fit(model, mse, loader, epochs=1, patience=0)

    def nan_loss(model: torch.nn.Module, batch: Data) -> torch.Tensor:
        return mse(model, batch) * float("nan")

    with pytest.raises(FloatingPointError, match="non-finite"):
        fit(model, nan_loss, loader, epochs=1, progress=False)


def test_fit_refuses_empty_loaders_and_unwritable_checkpoints(tmp_path: Path) -> None:
    model = DeepSetsLayer(1, 1)
    loader = DataLoader(toy_sets(4, 0), batch_size=4)
    with pytest.raises(ValueError, match="train_loader yielded no batches"):
        fit(model, mse, [], epochs=3, progress=False)
    with pytest.raises(ValueError, match="val_loader yielded no batches"):
        fit(model, mse, loader, [], epochs=2, checkpoint=tmp_path / "c.pt", progress=False)
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        fit(model, mse, loader, epochs=1, lr=float("nan"))
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    calls = []

    def counted(model: torch.nn.Module, batch: Data) -> torch.Tensor:
        calls.append(1)
        return mse(model, batch)

    # The output path is checked before any training, not after it.
    with pytest.raises(ValueError, match=r"checkpoint .* cannot be written"):
        fit(model, counted, loader, loader, epochs=1, checkpoint=blocker / "c.pt")
    with pytest.raises(ValueError, match="is a directory"):
        fit(model, counted, loader, loader, epochs=1, checkpoint=tmp_path)
    assert calls == []


def test_load_checkpoint_says_what_is_wrong(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a checkpoint\n")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    for path in (text, empty):
        with pytest.raises(ValueError, match="is not an sgnn checkpoint"):
            load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")
    good = tmp_path / "good.pt"
    save_checkpoint(good, DeepSetsLayer(1, 1))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ValueError, match="is not an sgnn checkpoint"):
        load_checkpoint(truncated)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            load_checkpoint(good, map_location="cuda")
    assert "state_dict" in load_checkpoint(good)


def test_progress_has_one_meaning(capsys) -> None:
    # pytest's captured stderr is not a terminal: None (the default of fit) shows no
    # bar there, so no bar lines end up in logs; True shows one anyway; False never.
    model = DeepSetsLayer(1, 1)
    loader = DataLoader(toy_sets(8, 0), batch_size=4)
    fit(model, mse, loader, loader, epochs=2, desc="toy")
    evaluate(model, loader, {"loss": mse_metric}, progress=None, forward=call)
    fit(model, mse, loader, loader, epochs=1, progress=False, desc="toy")
    assert capsys.readouterr().err == ""
    fit(model, mse, loader, loader, epochs=1, progress=True, desc="toy")
    assert "toy" in capsys.readouterr().err
    evaluate(model, loader, {"loss": mse_metric}, progress=True, forward=call)
    assert "evaluate" in capsys.readouterr().err


def test_load_checkpoint_into_a_model_of_another_shape_says_what_the_checkpoint_is(
        tmp_path: Path) -> None:  # fmt: skip
    from sgnn.nn import EGNN

    path = tmp_path / "c.pt"
    config = {"model": "gnn", "target": "footprint", "hidden_channels": 16}
    save_checkpoint(path, EGNN(4, 16, 2), config)
    # Other sizes: a summary (counts, the first keys and shapes), not a wall of names.
    with pytest.raises(ValueError, match=r"does not fit this EGNN: 28 tensors of another shape "
                       r"\(embedding\.weight \(16, 4\) in the checkpoint, \(8, 4\) in the model"
                       ) as err:  # fmt: skip
        load_checkpoint(path, EGNN(4, 8, 2))
    message = str(err.value)
    assert "This checkpoint is a model of config" in message and '"hidden_channels": 16' in message
    assert "sgnn.tasks.sandpile_model('gnn', 'footprint', 16)" in message
    assert message.count("convs.") <= 3 and "; ..." in message
    with pytest.raises(ValueError, match=r"11 keys missing from the checkpoint \(convs\.2\."):
        load_checkpoint(path, EGNN(4, 16, 3))
    # Weights that disagree with their own config: the same summary, in both directions.
    save_checkpoint(path, torch.nn.Linear(2, 2), {"in": 2, "out": 3})
    with pytest.raises(ValueError, match=r"2 tensors of another shape .*config \{\"in\": 2, "
                       r"\"out\": 3\}; build the model from that config"):  # fmt: skip
        load_checkpoint(path, torch.nn.Linear(2, 3))
    with pytest.raises(ValueError, match=r"2 keys missing .*2 keys the model does not have"):
        load_checkpoint(path, torch.nn.Sequential(torch.nn.Linear(2, 2)))
