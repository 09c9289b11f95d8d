"""What every picloud system measures, through the ``Cloud`` API; subclasses open the engine."""

from __future__ import annotations

import time

from bench.systems.base import Func
from bench.workloads import square
from picloud.client import Cloud


class PicloudSystem:
    """call/map/result timings on ``self.cloud``; ``setup`` opens it, ``close`` closes it."""

    procs: int
    cloud: Cloud | None = None

    def _open(self, cloud: Cloud) -> None:
        """Keep ``cloud`` and warm it up (workers started, function cached)."""
        self.cloud = cloud
        cloud.result(cloud.map(square, range(2 * self.procs)))

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

    def _close_cloud(self) -> None:
        if self.cloud is not None:
            self.cloud.close()
            self.cloud = None
