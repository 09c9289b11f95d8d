"""The interface every benchmarked system implements."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

Func = Callable[[Any], Any]


class System(Protocol):
    """One way of running jobs (picloud's local engine, multiprocessing.Pool, …).

    Every method times only what its scenario measures and leaves the system idle (all jobs
    finished) before it returns. A method a system cannot do returns None.

    Optional, looked up with ``getattr``: ``call_with(func, arg, n)`` (B5: seconds of ``n``
    sequential ``func(arg)`` round trips), ``fan_in(func, n)`` (B7: seconds to collect the
    results of a finished map of ``n``), ``first_result_s`` (B9: seconds from launching the
    workers to the first result, set by ``setup``), ``redis_url`` and ``pids`` (B1's Redis
    commands per job, B10's idle load: the system's Redis and its workers' process groups),
    ``max_n`` (cap on every map size), ``max_fan_in`` (cap on B7's size)."""

    def setup(self) -> None:
        """Start the system (processes forked, one job run) before anything is timed."""

    def call_latency(self, func: Func, n: int, warmup: int) -> list[float] | None:
        """Seconds of each of ``n`` sequential submit-and-wait calls, after ``warmup``."""

    def map_throughput(self, func: Func, n: int) -> float | None:
        """Seconds to map ``func`` over ``range(n)`` and collect every result."""

    def submit_map(self, func: Func, n: int) -> float | None:
        """Seconds until a map over ``range(n)`` returns its handles (results not awaited)."""

    def submit_calls(self, func: Func, n: int) -> float | None:
        """Seconds for a loop of ``n`` single-job submissions (results not awaited)."""

    def close(self) -> None:
        """Stop the system and its processes."""


def timed_calls(once: Callable[[int], Any], n: int, warmup: int) -> list[float]:
    """Seconds of each of ``n`` calls ``once(i)``, after ``warmup`` untimed ones."""
    clock = time.perf_counter
    for i in range(warmup):
        once(i)
    times = []
    for i in range(n):
        start = clock()
        once(i)
        times.append(clock() - start)
    return times
