"""The command-line interface."""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from sgnn.cli import main
from sgnn.sandpile import drive, expected_avalanche_size, height_probabilities, sample_recurrent


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
    assert list(table) == ["size", "area", "duration", "radius", "lost"]
    assert table["size"][0] == pytest.approx(mean, abs=1e-3)
    # The same seed through the engine gives the same avalanches: every printed statistic is
    # the mean, median, 99th percentile and maximum of the engine's record.
    rng = np.random.default_rng(1)
    z = sample_recurrent((12, 12), rng)
    start = z.copy()
    stats = drive(z, 5000, rng, progress=False)
    for name, row in table.items():
        v = getattr(stats, name)
        expected = [v.mean(), np.median(v), np.percentile(v, 99), v.max()]
        assert row == pytest.approx(expected, abs=5e-4), name
    assert measured == pytest.approx(list(height_probabilities(z)), abs=5e-5)
    assert f"topplings: {int(stats.size.sum())}," in out
    fraction = float(re.search(r"grains causing an avalanche: ([0-9.]+)", out).group(1))
    assert fraction == pytest.approx(float(np.mean(stats.size > 0)), abs=5e-5)
    # Each avalanche: the distinct toppled sites are at most the topplings, and at most the
    # 144 sites; a step of the dynamics topples at least one site. Grains are conserved:
    # 5000 dropped = the pile's growth + the grains lost into the sink.
    assert np.all(stats.area <= stats.size) and np.all(stats.area <= 144)
    assert np.all(stats.duration <= stats.size) and np.all((stats.size > 0) == (stats.area > 0))
    assert int(stats.lost.sum()) == 5000 - int(z.sum() - start.sum())


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
     (["evaluate", "ROOT/m.pt", "--root", "ROOT/file"], r"argument --root: .* is a file"),
     (["train", "--root", "ROOT/file/d", "--out", "ROOT/m.pt"],
      r"^sgnn train: error: argument --root: .*/file/d cannot be created: .*/file is a file, "
      r"not a directory$"),
     (["generate", "--root", "ROOT/file/x/d", "--size", "4", "--num-samples", "2"],
      r"argument --root: .*/file/x/d cannot be created: .*/file is a file"),
     (["evaluate", "ROOT/m.pt", "--root", "ROOT/d", "--sizes", "16", "1"],
      r"^sgnn evaluate: error: argument --sizes: expected a lattice side L >= 2 \(an integer\), "
      r"got '1'$"),
     (["train", "--root", "ROOT/d", "--out", "ROOT/m.pt", "--sizes", "0"],
      r"argument --sizes: expected a lattice side L >= 2")],
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
    argv = ["generate", "--root", root, "--size", "6", "--num-samples", "5", "--data-seed", "2",
            "--workers", "0", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert "5 samples" in capsys.readouterr().out
    direct = SandpileAvalanches(root, 6, 5, seed=2, num_workers=0, log=False)
    assert len(direct) == 5
    for shard in range(2):
        assert main(["generate", "--root", root + "/s", "--size", "6", "--num-samples", "5",
                     "--data-seed", "2", "--shard", str(shard), "--num-shards", "2",
                     "--workers", "0", "--no-progress"]) == 0  # fmt: skip
    assert main(["generate", "--root", root + "/s", "--size", "6", "--num-samples", "5",
                 "--data-seed", "2", "--num-shards", "2", "--workers", "0",
                 "--no-progress"]) == 0  # fmt: skip
    merged = SandpileAvalanches(root + "/s", 6, 5, seed=2, num_shards=2, num_workers=0, log=False)
    assert all(torch.equal(a.x, b.x) for a, b in zip(merged, direct, strict=True))
    assert main(["generate", "--root", root, "--size", "6", "--num-samples", "2",
                 "--shard", "3", "--num-shards", "2", "--no-progress"]) == 2  # fmt: skip
    assert "shard" in capsys.readouterr().err


def test_train_then_evaluate(tmp_path, capsys) -> None:
    from sgnn.tasks import sandpile_model
    from sgnn.train import load_checkpoint, save_checkpoint

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
    header = re.search(r"^ +L +n +(.*)$", out, flags=re.M).group(1).split()
    assert header == ["IoU", "|dlog(1+s)|", "exact", "iterations", "settled"]
    model = sandpile_model("local", "footprint", 8)
    model.load_state_dict(payload["state_dict"])
    assert table_rows(out) == expected_rows(model, root, [8, 16])
    # The same model with a last layer that says "every site topples once" (logit 1, log
    # count ln 2): IoU = toppled sites / all sites, and the predicted size is the site count.
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([1.0, math.log(2.0)]))
    save_checkpoint(tmp_path / "all.pt", model, payload["config"])
    assert main(["evaluate", str(tmp_path / "all.pt"), *evaluate[2:]]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert rows == expected_rows(model, root, [8, 16])
    assert 0 < rows[8][1][0] < 1 and rows[8][3] == (0.0, 0.0)  # no avalanche covers all 64
    assert main(evaluate) == 0  # the same checkpoint and data give the same table
    assert capsys.readouterr().out == out
    assert main([*evaluate, "--target", "hazard"]) == 2
    assert "predicts 'footprint'" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert main(["evaluate", str(tmp_path / "junk.pt"), "--root", root]) == 2
    assert "not a checkpoint" in capsys.readouterr().err


def expected_rows(model: torch.nn.Module, root: str, sizes: list[int]) -> dict[int, list]:
    """``sgnn evaluate``'s rows for a feed-forward footprint model, recomputed graph by graph
    from the cached data (seed 10 000 + L), by brute force: IoU and exactness of the set of
    sites with a positive logit; the error of log(1 + s) for the size s = sum of (e^c - 1)
    over those sites, c the predicted log count (clamped at 0); the mean and standard error
    over the avalanches (to the 4 decimals printed); no iterations."""
    from torch_geometric.data import Batch

    from sgnn.data import SandpileAvalanches
    from sgnn.tasks import node_outputs, sandpile_transform

    model.eval()
    rows = {}
    for size in sizes:
        data = SandpileAvalanches(root, size, 3, "footprint", 10_000 + size,
                                  transform=sandpile_transform("local"), num_workers=0,
                                  log=False)  # fmt: skip
        per_graph = {"iou": [], "size": [], "exact": []}
        for graph in data:
            with torch.no_grad():
                scores = node_outputs(model(Batch.from_data_list([graph]))).double()
            pred = set(torch.nonzero(scores[:, 0] > 0).view(-1).tolist())
            s = sum(math.expm1(max(float(scores[i, 1]), 0.0)) for i in pred)
            per_graph["size"].append(abs(math.log1p(s) - math.log1p(int(graph.avalanche_size))))
            true = set(torch.nonzero(graph.toppled > 0).view(-1).tolist())
            per_graph["iou"].append(len(pred & true) / len(pred | true) if pred | true else 1.0)
            per_graph["exact"].append(float(pred == true))
        cells = [len(data)]
        for v in map(np.array, per_graph.values()):
            cells.append(pytest.approx((v.mean(), v.std(ddof=1) / math.sqrt(v.size)), abs=1e-4))
        rows[size] = [*cells, None, None]
    return rows


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
                 "--data-seed", "7", "--workers", "0", "--no-progress"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "verified: yes (0 of 4000 local cases wrong)" in out
    n, iou, _, exact, iterations, settled = table_rows(out)[12]
    assert n == 3 and iou == (1.0, 0.0) and exact == (1.0, 0.0) and settled == (1.0, 0.0)
    assert iterations[0] >= 2  # a recurrent model reports its iterations
    # --data-seed is the base seed of the evaluation data: side 12 used seed 7 + 12.
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
                     str(samples), "--data-seed", str(seed), "--workers", "0",
                     "--no-progress"]) == 0  # fmt: skip
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


def subcommands() -> dict[str, argparse.ArgumentParser]:
    from sgnn.cli import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_has_help_and_help_shows_every_default(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping within an option's help text
    commands = subcommands()
    assert list(commands) == ["simulate", "generate", "train", "evaluate"]
    for name, parser in commands.items():
        entries = help_entries(parser.format_help())
        for action in parser._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
            if not action.option_strings or action.dest == "help":
                continue
            entry = entries[action.option_strings[0]]
            if not action.required and action.default not in (None, False, argparse.SUPPRESS):
                assert "(default: " in entry, (name, entry)
    train = help_entries(subcommands()["train"].format_help())
    for option, default in (("--hidden", "32"), ("--seed", "0"), ("--data-seed", "1"),
                            ("--batch-size", "16"), ("--model", "rgnet-exact"),
                            ("--sizes", "16 32"), ("--patience", "4")):  # fmt: skip
        assert train[option].endswith(f"(default: {default})"), train[option]
    # The seeds say which is which.
    assert re.search(r"^--seed SEED seed of the initial weights .*not of the data",
                     train["--seed"])  # fmt: skip
    assert re.search(r"^--data-seed DATA_SEED base seed of the training and validation "
                     r"datasets \(not of the weights", train["--data-seed"])  # fmt: skip


def help_entries(text: str) -> dict[str, str]:
    """``--help``'s options: first option string -> its entry (invocation and help text), on
    one line, single-spaced."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("  -"):
            current = line.split()[0].rstrip(",")
            entries[current] = line.split()
        elif current is not None and line.startswith("   "):
            entries[current].extend(line.split())
        else:
            current = None
    return {option: " ".join(parts) for option, parts in entries.items()}


def test_data_seed_is_one_spelling_and_seed_a_deprecated_alias(capsys) -> None:
    from sgnn.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["train", "--root", "r", "--out", "m.pt", "--seed", "3"])
    assert (args.seed, args.data_seed) == (3, 1)  # train: --seed seeds the weights
    assert capsys.readouterr().err == ""
    for argv, default in ((["evaluate", "m.pt", "--root", "r"], 10_000),
                          (["generate", "--root", "r", "--size", "4", "--num-samples", "2"], 0)):
        assert parser.parse_args(argv).data_seed == default
        assert parser.parse_args([*argv, "--data-seed", "7"]).data_seed == 7
        assert capsys.readouterr().err == ""
        assert parser.parse_args([*argv, "--seed", "7"]).data_seed == 7
        assert capsys.readouterr().err.strip() == (
            f"sgnn {argv[0]}: warning: --seed is a deprecated spelling; use --data-seed")
        with pytest.raises(SystemExit):
            parser.parse_args([*argv, "--seed", "-1"])
        assert "argument --seed: expected a non-negative integer" in capsys.readouterr().err


def test_evaluate_shows_a_bar_per_size(tmp_path, capsys, monkeypatch) -> None:
    import sgnn._progress
    from sgnn.tasks import sandpile_model
    from sgnn.train import save_checkpoint

    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, sandpile_model("local", "footprint", 4),
                    {"model": "local", "target": "footprint", "hidden_channels": 4,
                     "train_sizes": [4]})  # fmt: skip
    # As on a terminal: a bar unless --no-progress.
    monkeypatch.setattr(sgnn._progress, "tqdm_disable", lambda progress: progress is False)
    argv = ["evaluate", str(ckpt), "--root", str(tmp_path / "data"), "--sizes", "4", "6",
            "--num-samples", "2", "--workers", "0", "--threads", "1"]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "evaluate L=4" in err and "evaluate L=6" in err and "batch" in err
    assert main([*argv, "--no-progress"]) == 0
    assert "evaluate L=" not in capsys.readouterr().err


def test_torch_threads(monkeypatch) -> None:
    from sgnn._device import available_cpus, set_torch_threads

    before = torch.get_num_threads()
    try:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            monkeypatch.delenv(name, raising=False)
        cpus = available_cpus()
        assert 1 <= cpus <= (os.cpu_count() or 1)
        assert set_torch_threads() == torch.get_num_threads() == min(cpus, 8)
        assert set_torch_threads(1) == torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice is left alone
        assert set_torch_threads() == 1
        with pytest.raises(ValueError, match="at least 1"):
            set_torch_threads(0)
        with pytest.raises(TypeError, match="must be an int"):
            set_torch_threads(2.0)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(("size", "expected"), [((0, 0), {"ncols": 80, "nrows": 24}),
                                                ((120, 40), {}), (None, {})])  # fmt: skip
def test_bars_on_a_terminal_without_a_size(size, expected, monkeypatch) -> None:
    """A pseudo-terminal that reports 0 columns would hide every bar: a fixed screen then."""
    import sgnn._progress

    def get_terminal_size(fd: int) -> os.terminal_size:
        if size is None:
            raise OSError("not a terminal")
        return os.terminal_size(size)

    monkeypatch.setattr(sgnn._progress.os, "get_terminal_size", get_terminal_size)
    assert sgnn._progress.tqdm_screen() == expected
