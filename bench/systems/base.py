"""The interface every benchmarked system implements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Func = Callable[[Any], Any]


class System(Protocol):
    """One way of running jobs (picloud's local engine, multiprocessing.Pool, …).

    Every method times only what its scenario measures and leaves the system idle (all jobs
    finished) before it returns. A method a system cannot do returns None."""

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
