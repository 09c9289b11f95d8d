"""A raw Celery app (prefork worker, Redis as broker and result backend), the peer of picloud's
cluster engine. Only ``bench.workloads.square`` can run: Celery ships task names, not
functions, so its registered twin ``bench.square`` stands in for it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from celery import group

from bench.systems.base import Func
from bench.systems.celery_tasks import make_app
from bench.workloads import square
from tests.services import REPO, redis_server

#: ``group`` of single tasks collects ~600 results/s: B3 measures it at this size
GROUP_N = 2_000
CHUNK = 100


class CeleryRaw:
    """``square.delay(x).get()``; maps as ``square.chunks(..., 100)`` and as a ``group``."""

    #: B3's slow variant gets fewer timed runs
    max_repeats = 2
    note = (
        f"celery-raw: B3 n=10,000 is square.chunks(((i,) ...), {CHUNK}).apply_async().get(); "
        f"the group row is group(square.s(i) ...) at n={GROUP_N:,}. B2 map = "
        "group(...).apply_async(); after a B2/B6 timing the queue is purged, not drained. "
        "B6 n/a: Celery cannot ship a __main__ function."
    )

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self.app: Any = None
        self.task: Any = None
        self._stack = contextlib.ExitStack()

    def setup(self) -> None:
        stack = self._stack
        url = stack.enter_context(redis_server())
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-celery-")))
        log = stack.enter_context(open(log_dir / "worker.log", "wb"))  # noqa: SIM115
        env = dict(
            os.environ,
            BENCH_CELERY_URL=url,
            PYTHONPATH=os.pathsep.join([str(REPO), *sys.path]),
        )
        # fmt: off
        command = [
            sys.executable, "-m", "celery", "-A", "bench.systems.celery_tasks", "worker",
            "-c", str(self.procs), "-P", "prefork", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-l", "WARNING",
        ]
        # fmt: on
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        stack.callback(_stop, process)
        self.app, self.task = make_app(url)
        stack.callback(self.app.close)
        self.task.delay(0).get(timeout=60)  # the worker is up
        self.map_throughput(square, 2 * self.procs)

    def _purge(self) -> None:
        self.app.control.purge()

    def call_latency(self, func: Func, n: int, warmup: int) -> list[float] | None:
        if func is not square:
            return None
        delay, clock = self.task.delay, time.perf_counter
        for i in range(warmup):
            delay(i).get()
        times = []
        for i in range(n):
            start = clock()
            delay(i).get()
            times.append(clock() - start)
        return times

    def map_throughput(self, func: Func, n: int) -> float | None:
        if func is not square:
            return None
        start = time.perf_counter()
        self.task.chunks(((i,) for i in range(n)), CHUNK).apply_async().get()
        return time.perf_counter() - start

    def extra_maps(self) -> list[tuple[str, str, int]]:
        """B3 variants: (key, row label without n, n)."""
        return [("B3.celery-group", "B3 map+result, celery group", GROUP_N)]

    def map_variant(self, key: str, func: Func, n: int) -> float | None:
        if func is not square:
            return None
        start = time.perf_counter()
        group(self.task.s(i) for i in range(n)).apply_async().get()
        return time.perf_counter() - start

    def submit_map(self, func: Func, n: int) -> float | None:
        if func is not square:
            return None
        start = time.perf_counter()
        group(self.task.s(i) for i in range(n)).apply_async()
        elapsed = time.perf_counter() - start
        self._purge()
        return elapsed

    def submit_calls(self, func: Func, n: int) -> float | None:
        if func is not square:
            return None
        delay = self.task.delay
        start = time.perf_counter()
        for i in range(n):
            delay(i)
        elapsed = time.perf_counter() - start
        self._purge()
        return elapsed

    def close(self) -> None:
        self._stack.close()
        self.app = self.task = None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the worker's whole process group: SIGTERM, then SIGKILL after 15 s."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # pool children left behind
        os.killpg(process.pid, signal.SIGKILL)
