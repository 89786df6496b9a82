"""The command-line interface."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

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
    for h in range(4):
        assert f"P(height = {h})" in out


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


def test_module_entry_point_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sgnn", "simulate", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--grains" in done.stdout
