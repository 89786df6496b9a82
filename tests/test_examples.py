"""Every example runs end to end in its quick mode and says what it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sandpile_statistics(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = run_example("sandpile_statistics.py", "--out", str(tmp_path))
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([+-][\d.]+)%", out, flags=re.M)
    assert [int(r[0]) for r in rows] == [16, 32]
    for _, measured, exact, _ in rows:
        assert abs(float(measured) - float(exact)) < 0.1 * float(exact)
    for png in ("avalanche_sizes.png", "size_vs_radius.png"):
        assert (tmp_path / png).stat().st_size > 10_000
