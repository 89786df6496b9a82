"""The command-line interface."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch

from sgnn.cli import main
from sgnn.sandpile import expected_avalanche_size


def test_simulate_prints_consistent_statistics(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--size", "12", "--grains", "5000", "--seed", "1", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "12x12 lattice" in out and "grains dropped: 5000" in out
    exact = float(re.search(r"Dhar's exact <s> = ([0-9.]+)", out).group(1))
    assert exact == pytest.approx(expected_avalanche_size((12, 12)), abs=1e-3)
    mean = float(re.search(r"mean avalanche size ([0-9.]+)", out).group(1))
    assert abs(mean - exact) < 0.25 * exact
    measured = [float(re.search(rf"P\(height = {h}\) +([0-9.]+)", out).group(1)) for h in range(4)]
    assert sum(measured) == pytest.approx(1.0, abs=2e-4)
    mean_height = float(re.search(r"mean height +([0-9.]+)", out).group(1))
    assert mean_height == pytest.approx(sum(h * p for h, p in enumerate(measured)), abs=1e-3)
    rows = re.finditer(r"^  (size|area|duration|radius|lost) +(.*)$", out, flags=re.M)
    table = {m.group(1): [float(x) for x in m.group(2).split()] for m in rows}
    assert set(table) == {"size", "area", "duration", "radius", "lost"}
    assert table["size"][0] == pytest.approx(mean, abs=1e-3)
    for mean_, median, p99, largest in table.values():
        assert 0 <= median <= p99 <= largest and mean_ <= largest
    assert table["area"][3] <= 12 * 12
    # Grains are conserved: over 5000 grains the pile's mass changes by at most 3 * 144.
    assert table["lost"][0] == pytest.approx(1.0, abs=3 * 144 / 5000)


def test_simulate_no_grains(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--size", "6", "--grains", "0", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "grains dropped: 0" in out and "no avalanche statistics" in out


def test_simulate_from_empty_with_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--shape", "5", "9", "--grains", "300", "--start", "empty",
                 "--no-progress"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "5x9 lattice" in out and "transients" in out


@pytest.mark.parametrize(
    "argv",
    [[], ["simulate", "--size", "0"], ["simulate", "--grains", "-5"], ["frobnicate"],
     ["simulate", "--size", "4", "--shape", "4", "4"]],
)  # fmt: skip
def test_bad_arguments_exit_nonzero(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code != 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["simulate", "--grains", "1e5"], r"argument --grains: expected a non-negative integer, "
                                       r"got '1e5'"),
     (["simulate", "--seed", "-3"], r"argument --seed: expected a non-negative integer"),
     (["simulate", "--size", "30000"], r"argument --size/--shape: .*a 30000x30000 lattice "
                                        r"needs about [\d.]+ GiB"),
     (["train", "--root", "ROOT/file", "--out", "ROOT/m.pt"], r"argument --root: .* is a file"),
     (["train", "--root", "ROOT/d", "--out", "ROOT/m.pt", "--lr", "nan"],
      r"argument --lr: expected a positive finite number, got 'nan'"),
     (["train", "--root", "ROOT/d", "--out", "ROOT/file/m.pt"],
      r"argument --out .* cannot be written"),
     (["evaluate", "ROOT/m.pt", "--root", "ROOT/file"], r"argument --root: .* is a file")],
)  # fmt: skip
def test_user_errors_are_one_line_and_exit_2(argv: list[str], message: str, tmp_path,
                                             capsys) -> None:  # fmt: skip
    (tmp_path / "file").write_text("a file, not a directory")
    argv = [a.replace("ROOT", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert re.search(message, err[-1]), err
    assert not (tmp_path / "d").exists()  # nothing generated before the error


def test_module_entry_point_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sgnn", "simulate", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--grains" in done.stdout


def test_generate_writes_a_loadable_dataset(tmp_path, capsys) -> None:
    from sgnn.data import SandpileAvalanches

    root = str(tmp_path)
    argv = ["generate", "--root", root, "--size", "6", "--num-samples", "5", "--seed", "2",
            "--workers", "0", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert "5 samples" in capsys.readouterr().out
    direct = SandpileAvalanches(root, 6, 5, seed=2, num_workers=0, log=False)
    assert len(direct) == 5
    for shard in range(2):
        assert main(["generate", "--root", root + "/s", "--size", "6", "--num-samples", "5",
                     "--seed", "2", "--shard", str(shard), "--num-shards", "2", "--workers", "0",
                     "--no-progress"]) == 0  # fmt: skip
    assert main(["generate", "--root", root + "/s", "--size", "6", "--num-samples", "5",
                 "--seed", "2", "--num-shards", "2", "--workers", "0", "--no-progress"]) == 0
    merged = SandpileAvalanches(root + "/s", 6, 5, seed=2, num_shards=2, num_workers=0, log=False)
    assert all(torch.equal(a.x, b.x) for a, b in zip(merged, direct, strict=True))
    assert main(["generate", "--root", root, "--size", "6", "--num-samples", "2",
                 "--shard", "3", "--num-shards", "2", "--no-progress"]) == 2  # fmt: skip
    assert "shard" in capsys.readouterr().err


def test_train_then_evaluate(tmp_path, capsys) -> None:
    from sgnn.train import load_checkpoint

    root, ckpt = str(tmp_path / "data"), str(tmp_path / "model.pt")
    argv = ["train", "--root", root, "--model", "local", "--sizes", "4", "8", "--num-samples",
            "8", "--val-samples", "4", "--epochs", "2", "--hidden", "8", "--workers", "0",
            "--out", ckpt, "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert "local" in capsys.readouterr().out
    payload = load_checkpoint(ckpt)
    assert payload["config"]["model"] == "local" and payload["config"]["train_sizes"] == [4, 8]
    evaluate = ["evaluate", ckpt, "--root", root, "--sizes", "8", "16", "--num-samples", "3",
                "--workers", "0", "--no-progress"]  # fmt: skip
    assert main(evaluate) == 0
    out = capsys.readouterr().out
    rows = table_rows(out)
    assert set(rows) == {8, 16} and "IoU" in out and "exact" in out
    for n, iou, size_error, exact, iterations, settled in rows.values():
        assert n == 3 and 0 <= iou[0] <= 1 and size_error[0] >= 0 and 0 <= exact[0] <= 1
        assert iou[1] >= 0 and exact[1] >= 0  # standard errors
        assert iterations is None and settled is None  # a feed-forward model runs no iterations
    assert main(evaluate) == 0  # the same checkpoint and data give the same table
    assert capsys.readouterr().out == out
    assert main([*evaluate, "--target", "hazard"]) == 2
    assert "predicts 'footprint'" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert main(["evaluate", str(tmp_path / "junk.pt"), "--root", root]) == 2
    assert "not a checkpoint" in capsys.readouterr().err


def table_rows(out: str) -> dict[int, list]:
    """``sgnn evaluate``'s rows: L -> [n, then (mean, standard error) or None per metric]."""
    rows = {}
    for m in re.finditer(r"^ +(\d+) +(\d+) +(.*)$", out, flags=re.M):
        tokens, cells = m.group(3).split(), [int(m.group(2))]
        while tokens:
            if tokens[0] == "-":
                cells.append(None)
                tokens = tokens[1:]
            else:
                assert tokens[1] == "+-"
                cells.append((float(tokens[0]), float(tokens[2])))
                tokens = tokens[3:]
        rows[int(m.group(1))] = cells
    return rows


def test_train_and_evaluate_a_recurrent_model(tmp_path, capsys) -> None:
    root, ckpt = str(tmp_path / "data"), str(tmp_path / "hint.pt")
    assert main(["train", "--root", root, "--model", "hint", "--sizes", "8", "--num-samples",
                 "64", "--val-samples", "4", "--batch-size", "4", "--epochs", "30", "--workers",
                 "0", "--out", ckpt, "--no-progress"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "hint" in out and "verified: yes (0 of 4000 local cases wrong)" in out
    assert "settled within the iteration budget on 4 of 4 validation avalanches" in out
    assert main(["evaluate", ckpt, "--root", root, "--sizes", "12", "--num-samples", "3",
                 "--seed", "7", "--workers", "0", "--no-progress"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "verified: yes (0 of 4000 local cases wrong)" in out
    n, iou, _, exact, iterations, settled = table_rows(out)[12]
    assert n == 3 and iou == (1.0, 0.0) and exact == (1.0, 0.0) and settled == (1.0, 0.0)
    assert iterations[0] >= 2  # a recurrent model reports its iterations
    # --seed is the base seed of the evaluation data: side 12 used seed 7 + 12.
    cached = [p.name for p in (tmp_path / "data" / "processed").iterdir()]
    assert any(name.startswith("footprint_L12_n3_seed19_") for name in cached), cached


def test_train_and_evaluate_the_count_model(tmp_path, capsys) -> None:
    """The end-to-end count model goes through its own staged training; train's exit status
    says whether its snapped rule verified."""
    root, ckpt = str(tmp_path / "data"), str(tmp_path / "count.pt")
    code = main(["train", "--root", root, "--model", "count", "--sizes", "16", "--num-samples",
                 "300", "--val-samples", "4", "--restarts", "0", "--workers", "0", "--out",
                 ckpt, "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert "count (9 parameters) trained on L = 16: 10 first-wave epochs and a search" in out
    verified = re.search(r"^verified: (yes|no) \(\d+ of 257440 local cases wrong\)", out, re.M)
    assert verified and (code == 0) == (verified.group(1) == "yes")
    assert main(["evaluate", ckpt, "--root", root, "--sizes", "24", "--num-samples", "3",
                 "--workers", "0", "--no-progress"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert verified.group(0) in out and table_rows(out)[24][0] == 3


def test_train_restarts_and_reports_a_rule_that_fails_verification(tmp_path, capsys) -> None:
    root, ckpt = str(tmp_path / "data"), str(tmp_path / "hint.pt")
    assert main(["train", "--root", root, "--model", "hint", "--sizes", "8", "--num-samples",
                 "8", "--val-samples", "4", "--epochs", "1", "--restarts", "1", "--workers",
                 "0", "--out", ckpt]) == 1  # fmt: skip
    captured = capsys.readouterr()
    assert re.search(r"attempt 1 of 2 \(seed 0\): verified: no", captured.err)
    assert re.search(r"attempt 2 of 2 \(seed 1\): verified: no", captured.err)
    assert "not converged: the snapped rule failed its verification in all 2 attempts" in (
        captured.err)  # fmt: skip
    assert re.search(r"^verified: no \(\d+ of 4000 local cases wrong\)$", captured.out, re.M)
    from sgnn.train import load_checkpoint

    config = load_checkpoint(ckpt)["config"]
    assert config["verified"] is False and config["wrong_local_cases"] > 0 and config["seed"] == 1


def test_evaluate_stops_a_model_that_does_not_settle(tmp_path, capsys) -> None:
    """A rule that never settles (every site gains a grain every step) runs out of its budget:
    evaluate stops after the first avalanches, with a message, instead of running on."""
    from sgnn.tasks import ToppleAutomaton
    from sgnn.train import save_checkpoint

    model = ToppleAutomaton()
    with torch.no_grad():
        model.rule.lins[0].bias[1] = 1.0  # the counter grows by one every step
    ckpt = tmp_path / "cycling.pt"
    save_checkpoint(ckpt, model, {"model": "hint", "target": "footprint", "hidden_channels": 32,
                                  "train_sizes": [8]})  # fmt: skip
    assert main(["evaluate", str(ckpt), "--root", str(tmp_path / "data"), "--sizes", "8",
                 "--num-samples", "12", "--workers", "0", "--no-progress"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "ran out of its iteration budget on 8 of the first 8 avalanches at L = 8" in err


def test_train_reads_what_generate_wrote(tmp_path, capsys) -> None:
    root = str(tmp_path / "data")
    for size, samples, seed in ((4, 6, 1), (4, 3, 101)):  # train's seeds: data_seed + k, + 100
        assert main(["generate", "--root", root, "--size", str(size), "--num-samples",
                     str(samples), "--seed", str(seed), "--workers", "0", "--no-progress"]) == 0
    processed = tmp_path / "data" / "processed"
    before = {p.name: p.stat().st_mtime_ns for p in processed.iterdir()}
    assert main(["train", "--root", root, "--model", "rgnet-exact", "--sizes", "4",
                 "--num-samples", "6", "--val-samples", "3", "--epochs", "1", "--hidden", "4",
                 "--out", str(tmp_path / "m.pt"), "--no-progress"]) == 0  # fmt: skip
    after = {p.name: p.stat().st_mtime_ns for p in processed.iterdir()}
    assert after == before  # nothing regenerated, nothing new


@pytest.mark.parametrize("command", ["train", "evaluate", "generate"])
def test_subcommand_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0 and "--root" in capsys.readouterr().out


def test_quiet_is_an_alias_of_no_progress(capsys) -> None:
    assert main(["simulate", "--size", "8", "--grains", "200", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "8x8 lattice" in captured.out and captured.err == ""
