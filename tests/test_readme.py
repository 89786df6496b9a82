"""The README's setup is what CI runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line for block in blocks[:2] for line in block.splitlines() if line.strip()]


def test_readme_has_two_commands_and_ci_runs_the_first_verbatim() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    install_and_test, main_job = commands
    assert "torch==2.13.0" in install_and_test and "pytest" in install_and_test
    assert main_job.startswith("python -m sgnn ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert install_and_test in ci.splitlines()
    assert "sphinx-build -W" in ci


def test_ci_script_is_executable() -> None:
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
