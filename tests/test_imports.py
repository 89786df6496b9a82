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
    # Pooling is a torch-only module: the layers load without the data stack.
    assert "sgnn.pool" in modules and not any(m.startswith("sgnn.data") for m in modules)
    # The engine loads when a dataset is generated.
    modules = loaded_after("from sgnn.data import SandpileAvalanches\nimport tempfile\n"
                           "SandpileAvalanches(tempfile.mkdtemp(), 4, 2, log=False)")
    assert "sgnn.sandpile.engine" in modules


def test_shared_names_are_what_the_parser_and_the_sampler_accept() -> None:
    from sgnn._names import SAMPLE_TARGETS, SANDPILE_MODELS
    from sgnn.cli import build_parser
    from sgnn.sandpile import avalanche_sample

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command" or a.choices)
    train = sub.choices["train"]
    choices = {a.dest: a.choices for a in train._actions if a.choices}
    assert tuple(choices["model"]) == SANDPILE_MODELS
    assert tuple(choices["target"]) == SAMPLE_TARGETS
    for target in SAMPLE_TARGETS:
        assert avalanche_sample((4, 4), target, 0)["z"].shape == (4, 4)


def test_moved_names_are_still_importable_from_their_old_home() -> None:
    import sgnn.data
    import sgnn.pool

    for name in ("coarse_grain", "refine", "dilated_edge_key"):
        assert getattr(sgnn.data, name) is getattr(sgnn.pool, name)


def test_exact_diagonalisation_needs_neither_torch_nor_the_sandpile() -> None:
    modules = loaded_after("import sgnn.magnets")
    assert "torch" not in modules and not any(m.startswith("sgnn.sandpile") for m in modules)
