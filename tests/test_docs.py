"""Every Python example in the docs runs, so the docs never show code that no longer works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks() -> list[tuple[str, str]]:
    blocks = []
    for page in sorted(DOCS.glob("*.rst")):
        text = page.read_text()
        for k, match in enumerate(re.finditer(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)",
                                              text)):  # fmt: skip
            code = "\n".join(line[3:] for line in match.group(1).splitlines())
            blocks.append((f"{page.stem}-{k}", code))
    return blocks


@pytest.mark.parametrize(("name", "code"), python_blocks(), ids=[b[0] for b in python_blocks()])
def test_docs_example_runs(name: str, code: str) -> None:
    exec(compile(code, name, "exec"), {"__name__": f"docs_{name}"})


def test_examples_were_found() -> None:
    names = {name.split("-")[0] for name, _ in python_blocks()}
    assert {"sandpile", "graphs", "symmetries"} <= names
