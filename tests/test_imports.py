"""Light imports: the command line builds its parser and simulates without torch, and the
layers load without the sandpile engine; and the package's layering, walked with ast: no
import cycle, no upward import, no private import across packages."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path


def loaded_after(code: str) -> set[str]:
    """The modules loaded by a fresh interpreter after running ``code``."""
    done = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(*sys.modules)"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return set(done.stdout.split())


def test_cli_help_and_simulate_do_not_import_torch() -> None:
    modules = loaded_after("from sgnn.cli import build_parser\nbuild_parser()")
    assert "torch" not in modules and "numba" not in modules
    modules = loaded_after(
        "from sgnn.cli import main\n"
        "main(['simulate', '--size', '8', '--grains', '50', '--no-progress'])"
    )
    assert "torch" not in modules and "sgnn.sandpile" in modules


def test_layers_do_not_import_the_sandpile_engine() -> None:
    modules = loaded_after("import sgnn.nn")
    assert not any(m.startswith("sgnn.sandpile") for m in modules)
    # Pooling is a torch-only module: the layers load without the data stack.
    assert "sgnn.pool" in modules and not any(m.startswith("sgnn.data") for m in modules)
    # The engine loads when a dataset is generated.
    modules = loaded_after(
        "from sgnn.data import SandpileAvalanches\nimport tempfile\n"
        "SandpileAvalanches(tempfile.mkdtemp(), 4, 2, log=False)"
    )
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


def test_moved_names_still_import_from_their_old_home_with_a_warning() -> None:
    import pytest

    import sgnn.data
    import sgnn.pool

    for name in ("coarse_grain", "refine", "dilated_edge_key"):
        with pytest.warns(DeprecationWarning, match=f"moved to sgnn.pool.{name}"):
            assert getattr(sgnn.data, name) is getattr(sgnn.pool, name)
    with pytest.raises(AttributeError):
        sgnn.data.no_such_name  # noqa: B018


def test_exact_diagonalisation_needs_neither_torch_nor_the_sandpile() -> None:
    modules = loaded_after("import sgnn.magnets")
    assert "torch" not in modules and not any(m.startswith("sgnn.sandpile") for m in modules)


# ------------------------------------------------------------------ the package's layering

SGNN = Path(__file__).resolve().parents[1] / "sgnn"
#: The layers of docs/contributing.rst, bottom first. A module may import its own package,
#: the private helpers at the root (``sgnn._checks``, ...) and the packages of lower
#: layers; packages of one layer are independent of each other.
LAYERS = (
    ("",),  # sgnn itself and its private helpers sgnn._*
    ("sandpile", "magnets", "photonics"),
    ("pool",),
    ("data",),
    ("nn", "testing"),
    ("train",),
    ("tasks", "bandits"),
    ("cli",),
    ("__main__",),
)
LAYER = {package: k for k, packages in enumerate(LAYERS) for package in packages}


def sgnn_modules() -> dict[str, Path]:
    """Every module of sgnn by dotted name (a package by its ``__init__``)."""
    modules = {}
    for path in SGNN.rglob("*.py"):
        parts = ("sgnn", *path.relative_to(SGNN).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def package_of(module: str) -> str:
    """``nn`` for ``sgnn.nn.recurrent``; ``""`` for sgnn and its root modules ``sgnn._io``."""
    part = module.split(".")[1] if "." in module else ""
    return "" if part.startswith("_") and part != "__main__" else part


def import_edges() -> list[tuple[str, str, str, int]]:
    """``(importer, imported module, imported name, line)`` for every import of an sgnn
    module by another, at any depth of the code (function-local imports included)."""
    modules = sgnn_modules()
    edges = []
    for module, path in modules.items():
        here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found = [(alias.name, "") for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                found = [(target, alias.name) for alias in node.names]
            else:
                continue
            for target, name in found:
                if not target.startswith("sgnn"):
                    continue
                if f"{target}.{name}" in modules:  # ``from . import submodule``
                    target, name = f"{target}.{name}", ""
                assert target in modules, f"{module}:{node.lineno} imports unknown {target}"
                edges.append((module, target, name, node.lineno))
    return edges


def test_the_import_walker_sees_function_local_and_relative_imports() -> None:
    edges = {(a, b) for a, b, _, _ in import_edges()}
    assert ("sgnn.nn.recurrent", "sgnn.nn._checks") in edges  # relative, top level
    assert ("sgnn.cli._train", "sgnn.tasks") in edges  # inside a function
    assert ("sgnn.__main__", "sgnn.cli") in edges  # absolute


def test_packages_import_only_downwards() -> None:
    wrong = []
    for module, target, name, line in import_edges():
        a, b = package_of(module), package_of(target)
        if a != b and b != "" and not LAYER[b] < LAYER[a]:
            wrong.append(f"{module}:{line} imports {target} ({name or 'module'}): "
                         f"layer {a or 'sgnn'} may not import {b}")  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_no_private_imports_across_packages() -> None:
    # Private helpers shared by several packages live at the bottom, in sgnn._*.
    wrong = []
    for module, target, name, line in import_edges():
        private = name.startswith("_") or any(p.startswith("_") for p in target.split(".")[1:])
        if private and package_of(module) != package_of(target) and package_of(target) != "":
            wrong.append(f"{module}:{line} imports {target}.{name}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = {}
    for module, target, _, _ in import_edges():
        if module != target:
            graph.setdefault(module, set()).add(target)
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> None:  # depth-first: a node met again on the path closes a cycle
        if node in path:
            cycle = [*path[path.index(node) :], node]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


#: Modules over 400 lines, each with the reason (acceptance of issue 23).
LONG_MODULES = {
    "sandpile/_kernels.py": "the numba kernels, compiled and cached together",
}


def test_modules_stay_short() -> None:
    long = {str(path.relative_to(SGNN)): n for path in SGNN.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > 400}  # fmt: skip
    assert set(long) <= set(LONG_MODULES), f"over 400 lines without a reason: {long}"


def test_public_constants_are_in_all() -> None:
    wrong = {}
    for path in SGNN.rglob("*.py"):
        rel = path.relative_to(SGNN)
        if any(p.startswith("_") and p != "__init__.py" for p in rel.parts):
            continue  # private modules
        names, public = set(), None
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AnnAssign) else [])  # fmt: skip
            for target in targets:
                if isinstance(target, ast.Name) and target.id == "__all__":
                    public = set(ast.literal_eval(node.value))
                elif isinstance(target, ast.Name) and re.fullmatch(r"[A-Z][A-Z0-9_]*", target.id):
                    names.add(target.id)
        missing = names - (public or set())
        if missing:
            wrong[str(rel)] = sorted(missing)
    assert not wrong, f"constants neither private nor in __all__: {wrong}"
