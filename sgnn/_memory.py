"""Refuse work whose arrays cannot fit, before allocating them (numpy's MemoryError, or the
kernel's OOM killer, comes late and says nothing about which argument was too large)."""

from __future__ import annotations

import os


def physical_memory() -> int | None:
    """This machine's memory in bytes, or :obj:`None` where the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(nbytes: int, name: str, what: str) -> None:
    """Raise ``ValueError`` naming ``name`` when ``what`` needs more than half the memory."""
    have = physical_memory()
    if have is not None and nbytes > have // 2:
        raise ValueError(f"{name}: {what} needs about {nbytes / 2**30:.1f} GiB, more than half "
                         f"of this machine's {have / 2**30:.1f} GiB")  # fmt: skip
