"""Every example runs end to end in its quick mode and says what it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
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


@pytest.mark.parametrize("target", ["footprint", "hazard"])
def test_sandpile_extrapolation_quick(tmp_path: Path, target: str) -> None:
    pytest.importorskip("matplotlib")
    out = run_example("sandpile_extrapolation.py", "--target", target, "--out", str(tmp_path),
                      "--workers", "0")  # fmt: skip
    models = ["RGNet exact", "RGNet unet", "local", "dilated", "heuristic"]
    rows = {m: re.search(rf"^{m}\s+(\d+)\s+(.*)$", out, flags=re.M) for m in models}
    assert all(rows.values()), out
    for match in rows.values():
        values = [float(v) for v in re.findall(r"[-0-9.]+(?:e[-+]?\d+)?", match.group(2))]
        assert len(values) == 4 and all(np.isfinite(values))  # 2 metrics x L = 16, 32
    assert (tmp_path / f"{target}_vs_size.png").stat().st_size > 10_000
    if target == "footprint":
        heuristic_iou = [float(v) for v in re.findall(r"([0-9.]+) /", rows["heuristic"].group(2))]
        assert all(0.2 < v < 0.9 for v in heuristic_iou)  # the physics baseline is sensible
        assert (tmp_path / "footprint_example.png").exists()
