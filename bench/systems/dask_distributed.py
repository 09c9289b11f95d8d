"""Dask distributed: ``LocalCluster(n_workers=procs, threads_per_worker=1, processes=True)``,
a peer of picloud's cluster engine."""

from __future__ import annotations

import logging
import time
from typing import Any

from bench.systems.base import Func, timed_calls
from bench.workloads import square


class DaskDistributed:
    """``client.submit(f, x, pure=False).result()`` and ``gather(map(f, range(n)))``."""

    #: seconds per 10,000-job map: fewer timed runs in B3, and no map of 100,000
    max_repeats = 2
    max_n = 10_000
    note = (
        "dask: B3 median of 2 runs, at n <= 10,000 (a map of 100,000 takes minutes); after a "
        "B2/B6 timing the futures are cancelled, not awaited."
    )

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self.cluster: Any = None
        self.client: Any = None
        self.first_result_s: float | None = None

    def setup(self) -> None:
        from distributed import Client, LocalCluster

        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        launched = time.perf_counter()
        self.cluster = LocalCluster(
            n_workers=self.procs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # not the heartbeat error at close
        )
        self.client = Client(self.cluster)
        self.client.submit(square, 1, pure=False).result()
        self.first_result_s = time.perf_counter() - launched
        self.client.gather(self.client.map(square, range(2 * self.procs), pure=False))

    def call_latency(self, func: Func, n: int, warmup: int) -> list[float]:
        submit = self.client.submit
        return timed_calls(lambda i: submit(func, i, pure=False).result(), n, warmup)

    def call_with(self, func: Func, arg: Any, n: int) -> list[float]:
        submit = self.client.submit
        return timed_calls(lambda _: submit(func, arg, pure=False).result(), n, 1)

    def fan_in(self, func: Func, n: int) -> float:
        from distributed import wait

        futures = self.client.map(func, range(n), pure=False)
        wait(futures)
        start = time.perf_counter()
        self.client.gather(futures)
        return time.perf_counter() - start

    def map_throughput(self, func: Func, n: int) -> float:
        client = self.client
        start = time.perf_counter()
        client.gather(client.map(func, range(n), pure=False))
        return time.perf_counter() - start

    def submit_map(self, func: Func, n: int) -> float:
        start = time.perf_counter()
        futures = self.client.map(func, range(n), pure=False)
        elapsed = time.perf_counter() - start
        self._drop(futures)
        return elapsed

    def submit_calls(self, func: Func, n: int) -> float:
        submit = self.client.submit
        start = time.perf_counter()
        futures = [submit(func, i, pure=False) for i in range(n)]
        elapsed = time.perf_counter() - start
        self._drop(futures)
        return elapsed

    def _drop(self, futures: list[Any]) -> None:
        """Cancel what is still queued and wait for the scheduler to forget it."""
        self.client.cancel(futures)
        del futures[:]
        deadline = time.monotonic() + 30
        while self.client.processing() and any(self.client.processing().values()):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
