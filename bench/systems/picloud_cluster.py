"""picloud's cluster engine: a fresh redis-server and one Celery worker (``-c procs``) serving
queue ``c1``, driven through the ``Cloud`` API."""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

from bench.systems.picloud_api import PicloudSystem
from picloud.client import Cloud
from tests.services import Worker, keyed_engine, redis_server


class PicloudCluster(PicloudSystem):
    """``Cloud(ClusterEngine(url, key, secret))`` (signed jobs) against a fresh Redis and
    ``Worker(url, "c1", procs)``."""

    #: B6P: the client's own modules travel with its jobs
    ships_modules = True

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self.redis_url = ""
        self.pids: list[int] = []
        self._stack = contextlib.ExitStack()

    def setup(self) -> None:
        url, _, launched = self._fleet()
        self._open(Cloud(keyed_engine(url), lambda: "cluster"), launched)

    def _fleet(self) -> tuple[str, Path, float]:
        """Start a fresh Redis and the c1 worker (stopped by ``close``); (its URL, a folder,
        when the worker was launched)."""
        stack = self._stack
        self.redis_url = url = stack.enter_context(redis_server())
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-picloud-")))
        launched = time.perf_counter()
        worker = Worker(url, "c1", self.procs, folder)
        stack.callback(worker.stop)
        self.pids = [worker.process.pid]
        worker.wait_ready()
        return url, folder, launched

    def close(self) -> None:
        try:
            self._close_cloud()
        finally:
            self._stack.close()
