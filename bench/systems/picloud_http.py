"""picloud's HTTP transport: the cluster system's Redis and worker, plus the web UI (gunicorn,
as deploy/ runs it), driven through ``Cloud(HttpEngine(...))``: a client with only an api key
and the server's URL."""

from __future__ import annotations

import redis

from bench.systems.picloud_cluster import PicloudCluster
from picloud.client import Cloud
from picloud.engines.http import HttpEngine
from tests.services import TEST_API_KEY, TEST_SECRET, install_test_authority, register_key
from tests.webserver import WebServer


class PicloudHttp(PicloudCluster):
    """``Cloud(HttpEngine(server, key, secret))`` against PicloudCluster's Redis and worker and
    a WebServer on that Redis."""

    def setup(self) -> None:
        url, folder, launched = self._fleet()
        with redis.Redis.from_url(url) as client:
            register_key(client)
        install_test_authority(str(folder))
        web = WebServer(url, folder, (TEST_API_KEY, TEST_SECRET), env={"PICLOUD_HOME": str(folder)})
        self._stack.callback(web.stop)
        engine = lambda: HttpEngine(web.url, TEST_API_KEY, TEST_SECRET)  # noqa: E731
        self._open(Cloud(engine, lambda: "cluster"), launched)
