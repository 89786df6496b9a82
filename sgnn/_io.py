"""File writes shared by checkpoints and dataset caches: atomic writes, and early checks
that a path can be written at all and that a cache folder can be a folder."""

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


def check_cache_root(root: str | os.PathLike[str], name: str = "root") -> Path:
    """``root`` as a :class:`~pathlib.Path` (``~`` expanded), or a ``ValueError`` naming
    ``name`` if it is a file or lies under one, where no folder can ever be created (the
    ``NotADirectoryError`` of a later ``mkdir`` would not say which argument is wrong)."""
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {root!r}")
    path = Path(root).expanduser()
    for folder in (path, *path.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                where = "is a file" if folder == path else f"is under a file, {folder}"
                raise ValueError(f"{name} {str(root)!r} {where}; give a directory for the "
                                 "cache")  # fmt: skip
            break
    return path
