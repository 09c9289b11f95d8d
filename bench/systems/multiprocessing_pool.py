"""The standard library's ``multiprocessing.Pool`` (fork), the peer for local runs."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.pool import Pool

from bench.systems.base import Func
from bench.workloads import square


class MultiprocessingPool:
    """``multiprocessing.Pool(procs)``: apply_async(...).get() and map."""

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self.pool: Pool | None = None

    def setup(self) -> None:
        self.pool = multiprocessing.get_context("fork").Pool(self.procs)
        self.pool.map(square, range(2 * self.procs))

    def _pool(self) -> Pool:
        assert self.pool is not None, "setup() first"
        return self.pool

    def call_latency(self, func: Func, n: int, warmup: int) -> list[float]:
        apply, clock = self._pool().apply_async, time.perf_counter
        for i in range(warmup):
            apply(func, (i,)).get()
        times = []
        for i in range(n):
            start = clock()
            apply(func, (i,)).get()
            times.append(clock() - start)
        return times

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
