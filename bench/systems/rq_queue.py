"""RQ: ``procs`` ``rq worker`` processes (a fork per job, RQ's default) on a fresh Redis, the
simplest Redis task queue and a peer of picloud's cluster engine."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from bench.systems.base import Func, timed_calls
from bench.systems.processes import start, stop
from bench.workloads import square
from tests.services import redis_server

#: RQ forks a process per job (~40 jobs/s here): its maps are measured at this size at most
MAX_N = 500
#: seconds a result is waited for
TIMEOUT = 600


class RqQueue:
    """``queue.enqueue(f, x).latest_result(timeout=...)``; maps as ``enqueue_many``."""

    max_n = MAX_N
    max_fan_in = MAX_N
    max_repeats = 1

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self.note = (
            f"rq: {procs} `rq worker` processes (a fork per job); maps and B7 at n <= "
            f"{MAX_N:,} (rates are per item); results waited with latest_result(timeout)."
        )
        self.redis_url = ""
        self.pids: list[int] = []
        self.first_result_s: float | None = None
        self.queue: Any = None
        self._stack = contextlib.ExitStack()

    def setup(self) -> None:
        from rq import Queue

        stack = self._stack
        self.redis_url = url = stack.enter_context(redis_server())
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-rq-")))
        connection = redis.Redis.from_url(url)
        stack.callback(connection.close)
        self.queue = Queue("bench", connection=connection)
        rq = os.path.join(os.path.dirname(sys.executable), "rq")
        launched = time.perf_counter()
        for i in range(self.procs):
            command = [rq, "worker", "--url", url, "--quiet", "bench"]
            process = start(command, folder / f"worker-{i}.log", {})
            stack.callback(stop, process)
            self.pids.append(process.pid)
        self._result(self.queue.enqueue(square, 1))
        self.first_result_s = time.perf_counter() - launched
        self.map_throughput(square, 2 * self.procs)

    @staticmethod
    def _result(job: Any) -> Any:
        found = job.latest_result(timeout=TIMEOUT)
        if found is None or found.type != found.Type.SUCCESSFUL:
            raise RuntimeError(f"rq job {job.id} did not succeed: {found and found.exc_string}")
        return found.return_value

    def call_latency(self, func: Func, n: int, warmup: int) -> list[float]:
        enqueue = self.queue.enqueue
        return timed_calls(lambda i: self._result(enqueue(func, i)), n, warmup)

    def call_with(self, func: Func, arg: Any, n: int) -> list[float]:
        enqueue = self.queue.enqueue
        return timed_calls(lambda _: self._result(enqueue(func, arg)), n, 1)

    def _enqueue_map(self, func: Func, n: int) -> list[Any]:
        from rq import Queue

        datas = [Queue.prepare_data(func, (i,)) for i in range(n)]
        return self.queue.enqueue_many(datas)

    def map_throughput(self, func: Func, n: int) -> float:
        start_at = time.perf_counter()
        for job in self._enqueue_map(func, n):
            self._result(job)
        return time.perf_counter() - start_at

    def fan_in(self, func: Func, n: int) -> float:
        jobs = self._enqueue_map(func, n)
        for job in jobs:  # all finished
            self._result(job)
        start_at = time.perf_counter()
        for job in jobs:
            self._result(job)
        return time.perf_counter() - start_at

    def submit_map(self, func: Func, n: int) -> float:
        start_at = time.perf_counter()
        self._enqueue_map(func, n)
        elapsed = time.perf_counter() - start_at
        self.queue.empty()
        return elapsed

    def submit_calls(self, func: Func, n: int) -> float | None:
        if func.__module__ == "__main__":
            return None  # RQ refuses functions of __main__ (it ships their names)
        enqueue = self.queue.enqueue
        start_at = time.perf_counter()
        for i in range(n):
            enqueue(func, i)
        elapsed = time.perf_counter() - start_at
        self.queue.empty()
        return elapsed

    def close(self) -> None:
        self._stack.close()
        self.queue = None
