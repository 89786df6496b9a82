"""compile_kernels leaves no numba kernel of the engine to compile later."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import numba
from sgnn.sandpile import _kernels, compile_kernels

seconds = compile_kernels()
assert seconds >= 0
# The kernels the engine calls; private helpers ("_name") are compiled into their callers.
kernels = {name: obj for name, obj in vars(_kernels).items()
           if isinstance(obj, numba.core.registry.CPUDispatcher) and not name.startswith("_")}
missing = sorted(name for name, k in kernels.items() if not k.signatures)
print(len(kernels), missing)
"""


def test_compile_kernels_compiles_every_kernel() -> None:
    # A fresh process: in this one other tests may already have compiled the kernels.
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    count, missing = done.stdout.split(" ", 1)
    assert int(count) >= 10 and missing.strip() == "[]", done.stdout
