"""picloud's cluster engine: a fresh redis-server and one Celery worker (``-c procs``) serving
queue ``c1``, driven through the ``Cloud`` API."""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

from bench.systems.base import Func
from bench.workloads import square
from picloud.client import Cloud
from picloud.engines.cluster import ClusterEngine
from tests.services import Worker, redis_server


class PicloudCluster:
    """``Cloud(ClusterEngine(url))`` against a fresh Redis and ``Worker(url, "c1", procs)``."""

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self.cloud: Cloud | None = None
        self._stack = contextlib.ExitStack()

    def setup(self) -> None:
        stack = self._stack
        url = stack.enter_context(redis_server())
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-picloud-")))
        worker = Worker(url, "c1", self.procs, log_dir)
        stack.callback(worker.stop)
        worker.wait_ready()
        self.cloud = Cloud(lambda: ClusterEngine(url), lambda: "cluster")
        self.cloud.result(self.cloud.map(square, range(2 * self.procs)))

    def _cloud(self) -> Cloud:
        assert self.cloud is not None, "setup() first"
        return self.cloud

    def call_latency(self, func: Func, n: int, warmup: int) -> list[float]:
        cloud = self._cloud()
        call, result, clock = cloud.call, cloud.result, time.perf_counter
        for i in range(warmup):
            result(call(func, i))
        times = []
        for i in range(n):
            start = clock()
            result(call(func, i))
            times.append(clock() - start)
        return times

    def map_throughput(self, func: Func, n: int) -> float:
        cloud = self._cloud()
        start = time.perf_counter()
        cloud.result(cloud.map(func, range(n)))
        return time.perf_counter() - start

    def submit_map(self, func: Func, n: int) -> float:
        cloud = self._cloud()
        start = time.perf_counter()
        jids = cloud.map(func, range(n))
        elapsed = time.perf_counter() - start
        cloud.join(jids)
        return elapsed

    def submit_calls(self, func: Func, n: int) -> float:
        cloud = self._cloud()
        call = cloud.call
        start = time.perf_counter()
        jids = [call(func, i) for i in range(n)]
        elapsed = time.perf_counter() - start
        cloud.join(jids)
        return elapsed

    def close(self) -> None:
        try:
            if self.cloud is not None:
                self.cloud.close()
                self.cloud = None
        finally:
            self._stack.close()
