"""SandpileAvalanches: targets, determinism, cache keys, atomic writes, shards."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from sgnn.data import AddHierarchy, SandpileAvalanches
from sgnn.sandpile import add_grain, avalanche_sizes, is_recurrent


def assert_same(a: SandpileAvalanches, b: SandpileAvalanches) -> None:
    assert len(a) == len(b)
    for i in range(len(a)):
        for key in a[i].keys():
            x, y = a[i][key], b[i][key]
            assert torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y, (i, key)


def test_footprint_targets_equal_a_direct_add_grain(tmp_path: Path) -> None:
    ds = SandpileAvalanches(str(tmp_path), 12, 20, seed=3, num_workers=0, log=False)
    assert len(ds) == 20
    assert ds.processed_paths[0] == str(tmp_path / "processed" / "footprint_L12_n20_seed3_v1"
                                        / "footprint_L12_n20_seed3_v1.pt")  # fmt: skip
    for data in ds:
        z = data.x[:, :4].argmax(1).reshape(12, 12).numpy()
        assert is_recurrent(z)
        site = int(data.x[:, 5].argmax())
        assert z.reshape(-1)[site] == 3 and data.x[:, 5].sum() == 1
        av = add_grain(z.copy(), divmod(site, 12))
        np.testing.assert_array_equal(data.topplings.numpy(), av.topplings.reshape(-1))
        assert torch.equal(data.toppled, (data.topplings > 0).float())
        assert int(data.avalanche_size) == av.size and int(data.avalanche_area) == av.area
        assert int(data.avalanche_duration) == av.duration
        assert float(data.avalanche_radius) == pytest.approx(av.radius, abs=1e-6)
        assert data.avalanche_size.shape == (1,)
    batch = next(iter(DataLoader(ds, batch_size=5)))
    assert batch.avalanche_size.shape == (5,) and batch.topplings.shape == (5 * 144,)


def test_hazard_targets_equal_avalanche_sizes(tmp_path: Path) -> None:
    ds = SandpileAvalanches(str(tmp_path), 10, 5, target="hazard", num_workers=0, log=False)
    for data in ds:
        z = data.x[:, :4].argmax(1).reshape(10, 10).numpy()
        sizes, _ = avalanche_sizes(z)
        np.testing.assert_array_equal(data.avalanche_sizes.numpy(), sizes.reshape(-1))
        torch.testing.assert_close(data.hazard, torch.log1p(torch.from_numpy(sizes.reshape(-1))
                                                            .float()))  # fmt: skip
        assert data.x.shape[1] == 5  # no drop-site channel


def test_identical_whatever_the_number_of_workers(tmp_path: Path) -> None:
    serial = SandpileAvalanches(str(tmp_path / "a"), 8, 30, seed=5, num_workers=0, log=False)
    parallel = SandpileAvalanches(str(tmp_path / "b"), 8, 30, seed=5, num_workers=2, log=False)
    assert_same(serial, parallel)
    other = SandpileAvalanches(str(tmp_path / "a"), 8, 30, seed=6, num_workers=0, log=False)
    assert not torch.equal(other[0].x, serial[0].x) or not torch.equal(other[1].x, serial[1].x)


def test_shards_merge_to_the_one_shot_dataset(tmp_path: Path) -> None:
    one_shot = SandpileAvalanches(str(tmp_path / "one"), 8, 11, seed=1, num_workers=0, log=False)
    root = str(tmp_path / "sharded")
    parts = [SandpileAvalanches(root, 8, 11, seed=1, shard=i, num_shards=3, num_workers=0,
                                log=False) for i in range(3)]  # fmt: skip
    assert [len(p) for p in parts] == [3, 4, 4]
    assert parts[1].sample_range(1) == range(3, 7)
    merged = SandpileAvalanches(root, 8, 11, seed=1, num_shards=3, num_workers=0, log=False)
    assert_same(merged, one_shot)
    names = sorted(p.name for p in (Path(root) / "processed").rglob("*.pt"))
    assert "footprint_L8_n11_seed1_v1_shard2of3.pt" in names


@pytest.mark.filterwarnings("error::UserWarning")  # no spurious pre_transform warning
def test_cache_is_keyed_by_parameters_and_reused(tmp_path: Path, monkeypatch) -> None:
    root = str(tmp_path)
    SandpileAvalanches(root, 8, 4, num_workers=0, log=False)

    def fail(*args, **kwargs):
        raise AssertionError("regenerated a cached dataset")

    monkeypatch.setattr(SandpileAvalanches, "_generate", fail)
    SandpileAvalanches(root, 8, 4, num_workers=0, log=False)  # loads, no generation
    for kwargs in ({"size": 9, "num_samples": 4}, {"size": 8, "num_samples": 5},
                   {"size": 8, "num_samples": 4, "seed": 1},
                   {"size": 8, "num_samples": 4, "target": "hazard"},
                   {"size": 8, "num_samples": 4, "pre_transform": AddHierarchy()}):  # fmt: skip
        with pytest.raises(AssertionError, match="regenerated"):
            SandpileAvalanches(root, num_workers=0, log=False, **kwargs)


def test_interrupted_generation_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    original = SandpileAvalanches._to_data
    calls = {"n": 0}

    def flaky(self, sample):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # as if the run were stopped mid-way
        return original(self, sample)

    monkeypatch.setattr(SandpileAvalanches, "_to_data", flaky)
    with pytest.raises(KeyboardInterrupt):
        SandpileAvalanches(str(tmp_path), 8, 5, num_workers=0, log=False)
    assert not list((tmp_path / "processed").rglob("footprint*.pt*"))
    monkeypatch.setattr(SandpileAvalanches, "_to_data", original)
    assert len(SandpileAvalanches(str(tmp_path), 8, 5, num_workers=0, log=False)) == 5


def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    def broken_save(data_list, path):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(SandpileAvalanches, "save", staticmethod(broken_save))
    with pytest.raises(OSError, match="disk full"):
        SandpileAvalanches(str(tmp_path), 8, 3, num_workers=0, log=False)
    assert not list((tmp_path / "processed").rglob("footprint*.pt*"))


@pytest.mark.filterwarnings("error::UserWarning")  # a weights_only load failure would warn
def test_pre_transform_is_applied_before_caching(tmp_path: Path) -> None:
    SandpileAvalanches(str(tmp_path), 8, 3, pre_transform=AddHierarchy(), num_workers=0,
                       log=False)  # fmt: skip
    ds = SandpileAvalanches(str(tmp_path), 8, 3, pre_transform=AddHierarchy(), num_workers=0,
                            log=False)  # fmt: skip
    assert "cluster_0" in ds[0] and int(ds[0].num_levels) == 4
    assert repr(ds) == "SandpileAvalanches(3, size=8, target='footprint', seed=0)"


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [({"size": 0}, ValueError, "size"), ({"size": 2.5}, TypeError, "size"),
     ({"num_samples": 0}, ValueError, "num_samples"), ({"target": "x"}, ValueError, "target"),
     ({"seed": -1}, ValueError, "seed"), ({"shard": 3, "num_shards": 3}, ValueError, "shard"),
     ({"num_shards": 9}, ValueError, "num_shards"),
     ({"num_workers": -1}, ValueError, "num_workers")],
)  # fmt: skip
def test_bad_arguments(tmp_path: Path, kwargs, exc, match) -> None:
    args = {"size": 8, "num_samples": 4} | kwargs
    with pytest.raises(exc, match=match):
        SandpileAvalanches(str(tmp_path), **args)


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_a_corrupt_cache_file_is_named_and_regenerated(tmp_path: Path, damage: str) -> None:
    first = SandpileAvalanches(str(tmp_path), 5, 4, seed=3, num_workers=0, log=False)
    path = Path(first.processed_paths[0])
    good = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": good[: len(good) // 2],
                      "garbage": b"\x00not a torch file" * 10}[damage])  # fmt: skip
    with pytest.warns(RuntimeWarning, match=rf"dataset cache file {re.escape(str(path))} is "
                      r"corrupt .*regenerating it"):  # fmt: skip
        again = SandpileAvalanches(str(tmp_path), 5, 4, seed=3, num_workers=0, log=False)
    assert [torch.equal(a.x, b.x) for a, b in zip(first, again, strict=True)] == [True] * 4
    assert path.read_bytes() != b""


def test_a_root_under_a_file_names_root(tmp_path: Path) -> None:
    """Every SimulatedDataset checks its root before PyG's makedirs fails with a bare
    NotADirectoryError."""
    from sgnn.data import NBodyCharged

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for root in (blocker, blocker / "data", blocker / "data" / "deeper"):
        with pytest.raises(ValueError, match=r"root .* (is a file|is under a file)"):
            SandpileAvalanches(str(root), 8, 4, log=False)
    with pytest.raises(ValueError, match=r"root .* is under a file"):
        NBodyCharged(str(blocker / "data"), num_samples=2, log=False)
