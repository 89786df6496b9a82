"""The benchmark scripts run (quick mode) and print machine-readable lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^[a-z0-9_]+: ([0-9.e+-]+|n/a.*) ?.*$")


@pytest.mark.parametrize(
    "script",
    [
        "bench_sandpile.py",
        "bench_graphs.py",
        "bench_magnets.py",
        "bench_rg_recurrent.py",
        "bench_hazard.py",
        "bench_photonic.py",
    ],
)
def test_benchmark_runs_quick(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--repeats", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    assert lines and all(LINE.match(line) for line in lines), lines
    assert any("speedup" in line or "_vs_" in line for line in lines)
