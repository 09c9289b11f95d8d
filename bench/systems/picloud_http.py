"""picloud's HTTP transport: the cluster system's Redis and worker, plus the web UI (gunicorn,
as deploy/ runs it), driven through ``Cloud(HttpEngine(...))``: a client with only an api key
and the server's URL."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import redis

from bench.systems.picloud_api import PicloudSystem
from picloud.client import Cloud
from picloud.engines.http import HttpEngine
from tests.services import (
    TEST_API_KEY,
    TEST_SECRET,
    Worker,
    install_test_authority,
    redis_server,
    register_key,
)
from tests.webserver import WebServer


class PicloudHttp(PicloudSystem):
    """``Cloud(HttpEngine(server, key, secret))`` against a fresh Redis, ``Worker(url, "c1",
    procs)`` and a WebServer on that Redis."""

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self._stack = contextlib.ExitStack()

    def setup(self) -> None:
        stack = self._stack
        url = stack.enter_context(redis_server())
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-http-")))
        worker = Worker(url, "c1", self.procs, folder)
        stack.callback(worker.stop)
        worker.wait_ready()
        with redis.Redis.from_url(url) as client:
            register_key(client)
        install_test_authority(str(folder))
        web = WebServer(url, folder, (TEST_API_KEY, TEST_SECRET), env={"PICLOUD_HOME": str(folder)})
        stack.callback(web.stop)
        self._open(Cloud(lambda: HttpEngine(web.url, TEST_API_KEY, TEST_SECRET), lambda: "cluster"))

    def close(self) -> None:
        try:
            self._close_cloud()
        finally:
            self._stack.close()
