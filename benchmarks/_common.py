"""Helpers shared by the benchmark scripts (run them as ``python benchmarks/bench_*.py``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], repeats: int, warmup: bool = True) -> float:
    """Median wall time of ``repeats`` calls, after one untimed call if ``warmup``."""
    if warmup:
        fn()  # first-touch allocations, lazy imports, JIT compilation
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def report(name: str, value: float, unit: str) -> None:
    """One machine-readable line: ``name: value unit``."""
    print(f"{name}: {value:.4g} {unit}", flush=True)
