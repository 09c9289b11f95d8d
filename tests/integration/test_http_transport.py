"""A user with only an api key and a server URL (no broker URL, no fleet.json): the module-level
``cloud`` API reaches the fleet through the web UI's server, and keeps working through what
happens to servers: a restart while it waits, 429/503 with Retry-After, HTTPS with a CA of
one's own, a wrong secret (one clear error)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

import cloud
import cloud.pool_interface
import picloud.api
from picloud.cli import main
from picloud.exceptions import CloudException
from tests import jobfuncs as jf
from tests.services import TEST_API_KEY, TEST_SECRET, picloud_env
from tests.webserver import WebServer


@pytest.fixture
def off_cluster(web) -> Iterator[str]:
    """The module-level cloud configured as a laptop user's: server_url and the key only."""
    with picloud_env(server_url=web.url, api_key=TEST_API_KEY, api_secretkey=TEST_SECRET):
        picloud.api.reconnect()
        yield web.url
    picloud.api.reconnect()


@pytest.fixture
def own_server(cluster, web, tmp_path) -> Iterator[WebServer]:
    """A server of the test's own (it gets restarted), on the session's fleet."""
    server = WebServer(cluster.url, tmp_path, (TEST_API_KEY, TEST_SECRET))
    yield server
    server.stop()


def test_the_whole_api_goes_through_the_server(off_cluster):
    info = cloud.connection_info()
    assert info["connection_type"] == "cluster" and info["transport"] == "http"
    assert not info.get("broker_url")
    jid = cloud.call(jf.square, 7, _type="s1")
    assert cloud.result(jid) == 49
    assert cloud.info(jid, ["memory.max_usage"])[jid]["memory.max_usage"] > 0
    jids = cloud.map(jf.square, range(1000))
    assert cloud.result(jids) == [x * x for x in range(1000)]
    assert list(cloud.iresult(jids[:5])) == [0, 1, 4, 9, 16]
    cloud.files.putf(b"through the server", "notes/http.txt")
    assert cloud.files.getf("notes/http.txt").read() == b"through the server"
    assert "notes/http.txt" in cloud.files.list()
    reader = cloud.call(jf.read_cloud_file, "notes/http.txt")
    assert cloud.result(reader) == b"through the server"  # the fleet sees the same files
    assert cloud.files.delete("notes/http.txt") and not cloud.files.exists("notes/http.txt")


def test_the_picloud_command_and_the_pool_interface_go_through_the_server(off_cluster):
    runner = CliRunner()
    waited = runner.invoke(
        main, ["call", "--wait", "--type", "s1", "tests.jobfuncs:add", "1", "b=2"]
    )
    assert waited.exit_code == 0 and waited.stdout.strip() == "3", waited.output
    jid = int(runner.invoke(main, ["call", "--type", "s1", "tests.jobfuncs:square", "5"]).stdout)
    assert runner.invoke(main, ["result", str(jid)]).stdout.strip() == "25"
    assert runner.invoke(main, ["status", str(jid)]).stdout.split()[-1] == "done"
    assert cloud.pool_interface.map(jf.square, range(10)) == [x * x for x in range(10)]
    assert cloud.pool_interface.apply_async(jf.square, (6,)).get(timeout=60) == 36


def test_a_wrong_secret_is_one_clear_error(web):
    with picloud_env(server_url=web.url, api_key=TEST_API_KEY, api_secretkey="0" * 40):
        picloud.api.reconnect()
        try:
            began = time.monotonic()
            with pytest.raises(CloudException) as caught:
                cloud.call(jf.square, 2)
            assert "refused the api key" in str(caught.value) and TEST_API_KEY in str(caught.value)
            assert time.monotonic() - began < 10, "a refused key must not be retried"
        finally:
            picloud.api.reconnect()


def test_a_wait_rides_out_a_server_restart(own_server, tmp_path):
    gate = jf.Gate(str(tmp_path / "restart"))
    with picloud_env(server_url=own_server.url, api_key=TEST_API_KEY, api_secretkey=TEST_SECRET):
        picloud.api.reconnect()
        try:
            jid = cloud.call(jf.wait_for_file, gate.path, "after the restart")
            found: list[object] = []
            waiter = threading.Thread(target=lambda: found.append(cloud.result(jid, timeout=90)))
            waiter.start()
            time.sleep(1.0)  # the client is in a long poll now
            own_server.kill()
            time.sleep(1.0)
            gate.open()
            own_server.start()
            waiter.join(90)
            assert found == ["after the restart"]
        finally:
            if not os.path.exists(gate.path):
                gate.open()
            picloud.api.reconnect()


def test_429_with_retry_after_is_honoured(cluster, web, tmp_path):
    server = WebServer(
        cluster.url, tmp_path, (TEST_API_KEY, TEST_SECRET), env={"PICLOUD_API_RATE": "3"}
    )
    try:
        with picloud_env(server_url=server.url, api_key=TEST_API_KEY, api_secretkey=TEST_SECRET):
            picloud.api.reconnect()
            jids = [cloud.call(jf.square, x, _type="s1") for x in range(8)]  # over 3 a second
            assert cloud.result(jids) == [x * x for x in range(8)]
            assert "429" in server.log(), "the server never limited the rate: the test is broken"
    finally:
        picloud.api.reconnect()
        server.stop()


def test_https_with_a_ca_file(cluster, web, tmp_path):
    server = WebServer(cluster.url, tmp_path, (TEST_API_KEY, TEST_SECRET), tls=True)
    assert server.tls is not None
    try:
        settings = {"server_url": server.url, "api_key": TEST_API_KEY}
        with picloud_env(**settings, api_secretkey=TEST_SECRET):
            picloud.api.reconnect()
            with pytest.raises(CloudException, match="server_ca_file"):
                cloud.call(jf.square, 3)
        with picloud_env(**settings, api_secretkey=TEST_SECRET, server_ca_file=server.tls[0]):
            picloud.api.reconnect()
            assert cloud.result(cloud.call(jf.square, 3)) == 9
    finally:
        picloud.api.reconnect()
        server.stop()


def test_a_submission_whose_answer_was_lost_is_tried_again_and_queues_nothing_twice(web):
    """The server served the first try, its answer never arrived: the second try (attempt 2)
    finds the token and answers with the same jobs; no second copy took jids."""
    from picloud.client import Cloud
    from picloud.engines.http import HttpEngine
    from picloud.engines.http_connections import Unreachable

    engine = HttpEngine(web.url, TEST_API_KEY, TEST_SECRET)
    sent = engine.transport.connections.post
    tries: list[str] = []

    def lose_first_answer(path: str, body: bytes, headers: dict[str, str], timeout: Any) -> Any:
        response = sent(path, body, headers, timeout)
        if path.endswith("/submit"):
            tries.append(headers["X-Picloud-Attempt"])
            if len(tries) == 1:
                raise Unreachable("the answer was lost on the way")
        return response

    engine.transport.connections.post = lose_first_answer  # type: ignore[method-assign]
    client = Cloud(lambda: engine, lambda: "cluster")
    try:
        jids = client.map(jf.square, range(3))
        assert tries == ["1", "2"]
        assert client.result(jids) == [0, 1, 4]
        assert client.call(jf.square, 2) == jids[-1] + 1  # a second copy would have taken jids
    finally:
        client.close()
