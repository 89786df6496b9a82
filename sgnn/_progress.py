"""The one meaning of a ``progress`` argument, shared by every long job that shows a bar."""

from __future__ import annotations


def tqdm_disable(progress: bool | None) -> bool | None:
    """tqdm's ``disable`` for a ``progress`` argument: :obj:`None` shows the bar only where
    stderr is a terminal (tqdm's own :obj:`None`), ``True`` always, ``False`` never."""
    return {None: None, True: False, False: True}[progress]
