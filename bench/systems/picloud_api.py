"""What every picloud system measures, through the ``Cloud`` API; subclasses open the engine."""

from __future__ import annotations

import time
from typing import Any

from bench.systems.base import Func, timed_calls
from bench.workloads import square
from picloud.client import Cloud


class PicloudSystem:
    """call/map/result timings on ``self.cloud``; ``setup`` opens it, ``close`` closes it."""

    procs: int
    cloud: Cloud | None = None
    first_result_s: float | None = None

    def _open(self, cloud: Cloud, launched: float) -> None:
        """Keep ``cloud``; note the seconds from ``launched`` (perf_counter) to its first
        result; warm it up (every process started, the function cached)."""
        self.cloud = cloud
        cloud.result(cloud.call(square, 1))
        self.first_result_s = time.perf_counter() - launched
        cloud.result(cloud.map(square, range(2 * self.procs)))

    def _cloud(self) -> Cloud:
        assert self.cloud is not None, "setup() first"
        return self.cloud

    def call_latency(self, func: Func, n: int, warmup: int) -> list[float]:
        cloud = self._cloud()
        call, result = cloud.call, cloud.result
        return timed_calls(lambda i: result(call(func, i)), n, warmup)

    def call_with(self, func: Func, arg: Any, n: int) -> list[float]:
        cloud = self._cloud()
        call, result = cloud.call, cloud.result
        return timed_calls(lambda _: result(call(func, arg)), n, 1)

    def map_throughput(self, func: Func, n: int) -> float:
        cloud = self._cloud()
        start = time.perf_counter()
        cloud.result(cloud.map(func, range(n)))
        return time.perf_counter() - start

    def fan_in(self, func: Func, n: int) -> float:
        cloud = self._cloud()
        jids = cloud.map(func, range(n))
        cloud.join(jids)
        start = time.perf_counter()
        cloud.result(jids)
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
