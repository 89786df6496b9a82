"""File writes shared by checkpoints and dataset caches: atomic writes, and an early check
that a path can be written at all."""

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


def check_writable(path: str | os.PathLike[str], name: str = "path") -> None:
    """Raise ``ValueError`` naming ``name`` now, before any work, if a file cannot be
    written at ``path`` (the directories missing below a writable one will be created)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name} {path} is a directory; give a file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # the directories below it will be created
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {path} cannot be written: {parent} is not a writable "
                         "directory")  # fmt: skip
