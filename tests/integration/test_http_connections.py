"""The HTTP engine's kept-alive connections (picloud.engines.http_connections) against the real
server (gunicorn, which closes a connection idle for 2 s): a connection is reused while open,
one the server closed is not (nor any with ``http_close``), a call on one the server closed
unseen is tried again at once on a new one, and a proxy (the setting, or the environment's)
sends the requests by ``requests``."""

from __future__ import annotations

import gc
import time
import warnings
from typing import Any

import pytest
import requests

from picloud.engines import http_connections
from picloud.engines.http import HttpEngine
from picloud.engines.http_connections import Answer, Connections, Unreachable
from picloud.http import ApiClient
from picloud.sandbox.channel import encode_frame, pack
from tests.services import TEST_API_KEY, TEST_SECRET, picloud_env

#: Longer than gunicorn's keep-alive (2 s): the server has closed an idle connection by then.
PAST_KEEP_ALIVE = 2.5


def _statuses(connections: Connections) -> Answer:
    parts: list[bytes] = []
    body = encode_frame({"args": pack({"jids": [1]}, parts)}, parts)
    return connections.post("api/engine/statuses", body, {}, (5.0, 30.0))


def test_an_open_connection_is_reused_and_one_the_server_closed_is_not(web):
    connections = Connections(ApiClient(web.url, TEST_API_KEY, TEST_SECRET))
    try:
        assert _statuses(connections).status_code == 200
        (first,) = connections._idle
        assert _statuses(connections).status_code == 200
        assert connections._idle == [first]
        time.sleep(PAST_KEEP_ALIVE)
        assert _statuses(connections).status_code == 200
        (second,) = connections._idle
        assert second is not first
        assert first.sock is None  # closed, not left open
    finally:
        connections.close()


def test_http_close_keeps_no_connection_open(web):
    with picloud_env(http_close="1"):
        connections = Connections(ApiClient(web.url, TEST_API_KEY, TEST_SECRET))
    try:
        assert _statuses(connections).status_code == 200
        assert _statuses(connections).status_code == 200
        assert connections._idle == []
    finally:
        connections.close()


def test_a_call_on_a_connection_closed_unseen_is_tried_again_at_once(web, monkeypatch):
    engine = HttpEngine(web.url, TEST_API_KEY, TEST_SECRET)
    failures: list[Unreachable] = []
    post = engine.transport.connections.post

    def recording(*args: Any) -> Answer:
        try:
            return post(*args)
        except Unreachable as exc:
            failures.append(exc)
            raise

    monkeypatch.setattr(engine.transport.connections, "post", recording)
    try:
        assert engine.statuses([]) == []
        time.sleep(PAST_KEEP_ALIVE)
        # the server closed the kept connection, and the check before reuse misses it
        monkeypatch.setattr(http_connections, "wait_for_read", lambda sock, timeout: False)
        pauses: list[float] = []
        monkeypatch.setattr(time, "sleep", pauses.append)
        assert engine.statuses([]) == []
        assert [f.reused for f in failures] == [True]
        assert pauses == [0.0]  # the new try went at once
    finally:
        engine.close()


@pytest.mark.parametrize("how", ["proxy_server", "ALL_PROXY"])
def test_a_proxy_sends_the_requests_by_requests(web, monkeypatch, how):
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    if how == "ALL_PROXY":
        monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    with picloud_env(proxy_server="127.0.0.1:9" if how == "proxy_server" else ""):
        client = ApiClient(web.url, TEST_API_KEY, TEST_SECRET)
    connections = Connections(client)
    sent: list[str] = []

    def send(method: str, url: str, **kwargs: Any) -> Any:
        sent.append(url)
        raise requests.ConnectionError("no proxy listens on port 9")

    monkeypatch.setattr(client, "send", send)
    with pytest.raises(Unreachable, match="no proxy listens"):
        _statuses(connections)
    assert sent == [f"{client.base}api/engine/statuses"]


def test_connections_dropped_unclosed_leave_no_socket_open(web):
    connections = Connections(ApiClient(web.url, TEST_API_KEY, TEST_SECRET))
    assert _statuses(connections).status_code == 200
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        del connections
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
