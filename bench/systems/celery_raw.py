"""A raw Celery app (prefork worker, Redis as broker and result backend), the peer of picloud's
cluster engine. Only bench.workloads' functions can run: Celery ships task names, not
functions, so each has a registered twin ``bench.<name>``."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from celery import group

from bench.systems.base import Func, timed_calls
from bench.systems.celery_tasks import make_app
from bench.systems.processes import start, stop
from bench.workloads import square
from tests.services import redis_server

#: ``group`` of single tasks collects ~600 results/s: B3 and B7 measure it at this size
GROUP_N = 2_000
CHUNK = 100


class CeleryRaw:
    """``task.delay(x).get()``; maps as ``task.chunks(..., 100)`` and as a ``group``."""

    #: B3's slow variant gets fewer timed runs
    max_repeats = 2
    #: B7: a group of single tasks (its result is N results)
    max_fan_in = GROUP_N
    note = (
        f"celery-raw: B3 is task.chunks(((i,) ...), {CHUNK}).apply_async().get(); the group row "
        f"is group(task.s(i) ...) at n={GROUP_N:,}; B4 is chunks of n/(4 procs) (at most "
        f"{CHUNK}); B7 is GroupResult.get of a finished group at n={GROUP_N:,}. B2 map = "
        "group(...).apply_async(); after a B2/B6 timing the queue is purged, not drained. "
        "B6 n/a: Celery cannot ship a __main__ function."
    )

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self.app: Any = None
        self.tasks: dict[Func, Any] = {}
        self.redis_url = ""
        self.pids: list[int] = []
        self.first_result_s: float | None = None
        self._stack = contextlib.ExitStack()

    def setup(self) -> None:
        stack = self._stack
        self.redis_url = url = stack.enter_context(redis_server())
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-celery-")))
        self.app, self.tasks = make_app(url)
        stack.callback(self.app.close)
        # fmt: off
        command = [
            sys.executable, "-m", "celery", "-A", "bench.systems.celery_tasks", "worker",
            "-c", str(self.procs), "-P", "prefork", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-l", "WARNING",
        ]
        # fmt: on
        launched = time.perf_counter()
        process = start(command, log_dir / "worker.log", {"BENCH_CELERY_URL": url})
        stack.callback(stop, process)
        self.pids = [process.pid]
        self.tasks[square].delay(0).get(timeout=60)  # the worker is up
        self.first_result_s = time.perf_counter() - launched
        self.map_throughput(square, 2 * self.procs)

    def _purge(self) -> None:
        self.app.control.purge()

    def call_latency(self, func: Func, n: int, warmup: int) -> list[float] | None:
        task = self.tasks.get(func)
        return None if task is None else timed_calls(lambda i: task.delay(i).get(), n, warmup)

    def call_with(self, func: Func, arg: Any, n: int) -> list[float] | None:
        task = self.tasks.get(func)
        return None if task is None else timed_calls(lambda _: task.delay(arg).get(), n, 1)

    def map_throughput(self, func: Func, n: int) -> float | None:
        task = self.tasks.get(func)
        if task is None:
            return None
        size = CHUNK if func is square else max(1, min(CHUNK, n // (4 * self.procs)))
        start_at = time.perf_counter()
        task.chunks(((i,) for i in range(n)), size).apply_async().get()
        return time.perf_counter() - start_at

    def extra_maps(self) -> list[tuple[str, str, int]]:
        """B3 variants: (key, row label without n, n)."""
        return [("B3.celery-group", "B3 map+result, celery group", GROUP_N)]

    def map_variant(self, key: str, func: Func, n: int) -> float | None:
        task = self.tasks.get(func)
        if task is None:
            return None
        start_at = time.perf_counter()
        group(task.s(i) for i in range(n)).apply_async().get()
        return time.perf_counter() - start_at

    def fan_in(self, func: Func, n: int) -> float | None:
        task = self.tasks.get(func)
        if task is None:
            return None
        handle = group(task.s(i) for i in range(n)).apply_async()
        handle.join_native(timeout=600)
        start_at = time.perf_counter()
        handle.get()
        return time.perf_counter() - start_at

    def submit_map(self, func: Func, n: int) -> float | None:
        task = self.tasks.get(func)
        if task is None:
            return None
        start_at = time.perf_counter()
        group(task.s(i) for i in range(n)).apply_async()
        elapsed = time.perf_counter() - start_at
        self._purge()
        return elapsed

    def submit_calls(self, func: Func, n: int) -> float | None:
        task = self.tasks.get(func)
        if task is None:
            return None
        delay = task.delay
        start_at = time.perf_counter()
        for i in range(n):
            delay(i)
        elapsed = time.perf_counter() - start_at
        self._purge()
        return elapsed

    def close(self) -> None:
        self._stack.close()
        self.app, self.tasks = None, {}
