"""The README's setup is what CI runs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / ".ci" / "run"
# What may follow the README's command on its line in .ci/run: nothing, or a guard that stops
# CI when any step of the && list fails (`set -e` only sees a failure of the list's last step).
GUARDS = ("", " || exit $?", " || exit 1")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line for block in blocks[:2] for line in block.splitlines() if line.strip()]


def test_readme_has_two_commands_and_ci_runs_the_first_verbatim() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    install_and_test, main_job = commands
    assert "torch==2.13.0" in install_and_test and "pytest" in install_and_test
    assert install_and_test.index("torch==2.13.0") < install_and_test.index("pip install -e")
    assert main_job.startswith("python -m sgnn ")
    lines = CI.read_text().splitlines()
    assert any(install_and_test + guard in lines for guard in GUARDS), (
        "the README's install-and-test command must appear verbatim on a line of .ci/run"
    )
    assert "ruff check ." in lines
    assert "sphinx-build -W -b html docs docs/_build/html" in lines


def test_ci_script_is_executable_and_strict() -> None:
    assert os.access(CI, os.X_OK)
    lines = CI.read_text().splitlines()
    assert lines[0].startswith("#!") and "bash" in lines[0]
    assert "set -euo pipefail" in lines


@pytest.mark.parametrize("failing_step", [0, 2, 4])
def test_ci_stops_when_any_step_of_the_setup_line_fails(tmp_path: Path, failing_step: int) -> None:
    """Run .ci/run's own text with every step of the README line stubbed out."""
    steps = [s.strip() for s in readme_commands()[0].split("&&")]
    text = CI.read_text()
    stubs = ["false" if k == failing_step else "true" for k in range(len(steps))]
    text = text.replace(" && ".join(steps), " && ".join(stubs))
    for other in ("rm -rf .venv", "pip install ruff", "ruff check .",
                  "sphinx-build -W -b html docs docs/_build/html"):  # fmt: skip
        text = text.replace(other, "echo reached-" + other.split()[0])
    text = text.replace('cd "$(dirname "$0")/.."', "cd .")
    script = tmp_path / "run"
    script.write_text(text)
    done = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0
    assert "reached-pip" not in done.stdout and "reached-sphinx-build" not in done.stdout


def test_readme_python_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "torch.Size([512, 1])" in out and "torch.Size([4096, 1])" in out


def test_readme_lists_every_example_and_every_command() -> None:
    """The README's block of examples and commands runs every script of examples/ and both
    commands that train and evaluate."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    block = next(b for b in blocks if "python examples/" in b)
    listed = re.findall(r"^python examples/(\w+\.py)", block, flags=re.M)
    assert sorted(listed) == sorted(p.name for p in (ROOT / "examples").glob("*.py"))
    assert len(listed) == len(set(listed))
    assert re.search(r"^sgnn train ", block, flags=re.M)
    assert re.search(r"^sgnn evaluate ", block, flags=re.M)
