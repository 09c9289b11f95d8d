"""The standard library's ``multiprocessing.Pool`` (fork), the peer for local runs."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.pool import Pool
from typing import Any

from bench.systems.base import Func, timed_calls
from bench.workloads import square


class MultiprocessingPool:
    """``multiprocessing.Pool(procs)``: apply_async(...).get() and map."""

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self.pool: Pool | None = None
        self.first_result_s: float | None = None

    def setup(self) -> None:
        launched = time.perf_counter()
        self.pool = multiprocessing.get_context("fork").Pool(self.procs)
        self.pool.apply(square, (1,))
        self.first_result_s = time.perf_counter() - launched
        self.pool.map(square, range(2 * self.procs))

    def _pool(self) -> Pool:
        assert self.pool is not None, "setup() first"
        return self.pool

    def call_latency(self, func: Func, n: int, warmup: int) -> list[float]:
        apply = self._pool().apply_async
        return timed_calls(lambda i: apply(func, (i,)).get(), n, warmup)

    def call_with(self, func: Func, arg: Any, n: int) -> list[float]:
        apply = self._pool().apply_async
        return timed_calls(lambda _: apply(func, (arg,)).get(), n, 1)

    def fan_in(self, func: Func, n: int) -> float:
        handle = self._pool().map_async(func, range(n))
        handle.wait()
        start = time.perf_counter()
        handle.get()
        return time.perf_counter() - start

    def map_throughput(self, func: Func, n: int) -> float:
        pool = self._pool()
        start = time.perf_counter()
        pool.map(func, range(n))
        return time.perf_counter() - start

    def submit_map(self, func: Func, n: int) -> float:
        pool = self._pool()
        start = time.perf_counter()
        handle = pool.map_async(func, range(n))
        elapsed = time.perf_counter() - start
        handle.wait()
        return elapsed

    def submit_calls(self, func: Func, n: int) -> float:
        apply = self._pool().apply_async
        start = time.perf_counter()
        handles = [apply(func, (i,)) for i in range(n)]
        elapsed = time.perf_counter() - start
        for handle in handles:
            handle.wait()
        return elapsed

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
