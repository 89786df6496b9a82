"""Light imports: the command line builds its parser and simulates without torch, and the
layers load without the sandpile engine."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(code: str) -> set[str]:
    """The modules loaded by a fresh interpreter after running ``code``."""
    done = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(*sys.modules)"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return set(done.stdout.split())


def test_cli_help_and_simulate_do_not_import_torch() -> None:
    modules = loaded_after("from sgnn.cli import build_parser\nbuild_parser()")
    assert "torch" not in modules and "numba" not in modules
    modules = loaded_after("from sgnn.cli import main\n"
                           "main(['simulate', '--size', '8', '--grains', '50', '--no-progress'])")
    assert "torch" not in modules and "sgnn.sandpile" in modules


def test_layers_do_not_import_the_sandpile_engine() -> None:
    modules = loaded_after("import sgnn.nn")
    assert not any(m.startswith("sgnn.sandpile") for m in modules)
    # The engine loads when a dataset is generated.
    modules = loaded_after("from sgnn.data import SandpileAvalanches\nimport tempfile\n"
                           "SandpileAvalanches(tempfile.mkdtemp(), 4, 2, log=False)")
    assert "sgnn.sandpile.engine" in modules


def test_names_repeated_to_keep_imports_light_agree() -> None:
    from sgnn.cli import MODEL_NAMES
    from sgnn.data import datasets
    from sgnn.sandpile import samples
    from sgnn.train import SANDPILE_MODELS

    assert MODEL_NAMES == SANDPILE_MODELS
    assert datasets.SAMPLE_TARGETS == samples.SAMPLE_TARGETS
