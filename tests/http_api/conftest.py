"""Fixtures for the HTTP API tests: Django's live server, the session's real Redis and Celery
workers (``cluster``), API keys issued on that Redis, ``Curl`` (plain ``requests`` calls, as a
curl user makes them) and the picloud client configured for the live server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.core.cache import cache

from picloud.client import Cloud
from picloud.engines.cluster.engine import ClusterEngine
from tests.jobfuncs import Gate, wait_for
from tests.services import picloud_env
from webui.api import auth, engines
from webui.apikeys import issuing
from webui.apikeys.models import ApiKey

#: Seconds a test waits for a job to finish (the workers are idle: it takes milliseconds).
JOB_TIMEOUT = 30.0
FINISHED = ("done", "error", "killed", "stalled")


@dataclass(frozen=True)
class Key:
    """An issued API key with its secret (shown once, kept by the test)."""

    key: str
    secret: str
    row: ApiKey

    @property
    def auth(self) -> tuple[str, str]:
        return (self.key, self.secret)


class Curl:
    """HTTP calls to the live server exactly as curl makes them: Basic auth, no client code."""

    def __init__(self, base: str, auth: tuple[str, str] | None) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.auth = auth

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=JOB_TIMEOUT, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, timeout=JOB_TIMEOUT, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=JOB_TIMEOUT, **kwargs)

    def status(self, jid: int) -> str:
        response = self.get(f"/job/?jids={jid}&field=status")
        assert response.status_code == 200, response.text
        return response.json()["info"][str(jid)]["status"]

    def wait(self, jid: int) -> str:
        """Poll the job's status until it has finished (as PiCloud's REST callers did)."""
        return wait_for(
            lambda: (s := self.status(jid)) in FINISHED and s, JOB_TIMEOUT, f"job {jid}", 0.02
        )

    def result(self, jid: int) -> Any:
        assert self.wait(jid) == "done"
        response = self.get(f"/job/result/?jid={jid}")
        assert response.status_code == 200, response.text
        return response.json()["result"]

    def close(self) -> None:
        self.session.close()


def refused(response: requests.Response, status: int, *words: str) -> str:
    """Assert a PiCloud-shaped JSON error with ``status`` naming ``words``; its message."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error_code", "error_msg", "retry"}
    assert body["error_code"] == status and body["retry"] is False
    for word in words:
        assert word in body["error_msg"], (word, body["error_msg"])
    return body["error_msg"]


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    """Web UI users' passwords need no slow hash here (API secrets keep theirs)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_api_state() -> Iterator[None]:
    """No failed-login counts or cached logins from another test; the server's engines closed
    after each test."""
    cache.clear()
    auth._good.clear()
    yield
    engines.close_all()
    cache.clear()
    auth._good.clear()


@pytest.fixture
def fleet(cluster) -> Iterator[str]:
    """The session's Redis and workers, with picloud (and so the web UI) pointed at them."""
    with picloud_env(broker_url=cluster.url):
        yield cluster.url


@pytest.fixture
def server(live_server, fleet: str) -> str:
    """The live server's URL (no trailing slash), on the fleet."""
    return live_server.url


@pytest.fixture
def make_key(fleet: str) -> Callable[..., Key]:
    """``make_key(user=None)``: a fresh active key, published to the workers' Redis."""

    def make(user: Any = None) -> Key:
        row, secret = issuing.issue_key(user=user, description="http api test")
        return Key(row.key, secret, row)

    return make


@pytest.fixture
def key(make_key: Callable[..., Key]) -> Key:
    return make_key()


@pytest.fixture
def make_curl(server: str) -> Iterator[Callable[..., Curl]]:
    made: list[Curl] = []

    def make(auth: tuple[str, str] | None = None) -> Curl:
        made.append(Curl(server, auth))
        return made[-1]

    yield make
    for curl in made:
        curl.close()


@pytest.fixture
def curl(make_curl: Callable[..., Curl], key: Key) -> Curl:
    """Calls as ``key``."""
    return make_curl(key.auth)


@pytest.fixture
def configured(server: str, key: Key) -> Iterator[Key]:
    """The picloud client set up for the live server as ``key`` (PICLOUD_SERVER_URL,
    PICLOUD_API_KEY, PICLOUD_API_SECRETKEY)."""
    with picloud_env(server_url=server, api_key=key.key, api_secretkey=key.secret):
        yield key


@pytest.fixture
def cloud_as(fleet: str) -> Iterator[Callable[[Key], Cloud]]:
    """``cloud_as(key)``: a picloud Cloud on the fleet as ``key`` (to read jobs the Python way)."""
    made: list[Cloud] = []

    def make(key: Key) -> Cloud:
        made.append(Cloud(lambda: ClusterEngine(fleet, key.key, key.secret), lambda: "cluster"))
        return made[-1]

    yield make
    for cloud in made:
        cloud.close()


@pytest.fixture
def gate(tmp_path) -> Iterator[Gate]:
    """A gate a job waits on; opened at teardown so no job stays blocked."""
    made = Gate(os.path.join(tmp_path, "gate"))
    yield made
    if not os.path.exists(made.path):
        made.open()
