"""The one meaning of a ``progress`` argument, shared by every long job that shows a bar."""

from __future__ import annotations

import os
import sys

#: The screen assumed where stderr is a terminal that reports no size of its own.
_FALLBACK_SCREEN = {"ncols": 80, "nrows": 24}


def tqdm_disable(progress: bool | None) -> bool | None:
    """tqdm's ``disable`` for a ``progress`` argument: :obj:`None` shows the bar only where
    stderr is a terminal (tqdm's own :obj:`None`), ``True`` always, ``False`` never."""
    return {None: None, True: False, False: True}[progress]


def tqdm_screen() -> dict[str, int]:
    """tqdm's ``ncols`` and ``nrows``: none (the terminal's size, tqdm's own default), or a
    fixed 80 x 24 where stderr is a terminal that reports a size of 0 (a pseudo-terminal
    opened without one, as some job runners and ``script`` do), on which tqdm would hide
    every bar. Pass as ``tqdm(..., **tqdm_screen())``."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # not a terminal, or no file descriptor
        return {}
    return dict(_FALLBACK_SCREEN) if min(size) <= 0 else {}
