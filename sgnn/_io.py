"""Atomic file writes, shared by checkpoints and dataset caches."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary name beside ``path``, then rename it to ``path``.

    The rename is atomic on POSIX: readers (and processes racing to fill the same
    cache) see the complete file or none, never a torn one. The temporary file is
    removed if ``write`` fails.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
