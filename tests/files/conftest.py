"""Fixtures for the cloud.files suite: one run against the local folder, one against a real S3
server (moto's, over HTTP, started once per session)."""

from __future__ import annotations

import http.client
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

import picloud.config
from picloud.files import store
from tests.services import free_port, wait_until

_S3_VARS = ("PICLOUD_S3_ENDPOINT", "PICLOUD_S3_ACCESS_KEY", "PICLOUD_S3_SECRET_KEY")
_bucket_numbers = itertools.count()


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto S3 server running for the whole session."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port), "-H", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: server.poll() is not None or _answers(port), 30, f"moto S3 on port {port}"
        )
        if server.returncode is not None:
            raise RuntimeError(f"moto server exited with {server.returncode}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Reload the settings after each test, once monkeypatch has restored the environment."""
    yield
    picloud.config.reload()


@dataclass
class Backend:
    """Where the files of a test live."""

    kind: str  # "local" or "s3"
    home: str  # PICLOUD_HOME
    files_root: str  # the local store's <home>/files (stays empty for s3)
    bucket: str  # the S3 bucket (unused for local)

    def use_key(self, monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
        """Switch the current API key."""
        monkeypatch.setenv("PICLOUD_API_KEY", api_key)
        picloud.config.reload()


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Backend:
    """The same test against the local folder and against S3, with a fresh store each time."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PICLOUD_HOME", str(home))
    monkeypatch.setenv("PICLOUD_API_KEY", "1001")
    bucket = f"picloud-test-{os.getpid()}-{next(_bucket_numbers)}"
    for name in _S3_VARS:
        monkeypatch.delenv(name, raising=False)
    if request.param == "s3":
        monkeypatch.setenv("PICLOUD_S3_ENDPOINT", request.getfixturevalue("moto_endpoint"))
        monkeypatch.setenv("PICLOUD_S3_ACCESS_KEY", "testing")
        monkeypatch.setenv("PICLOUD_S3_SECRET_KEY", "testing")
        monkeypatch.setenv("PICLOUD_S3_BUCKET", bucket)
    monkeypatch.chdir(tmp_path)
    picloud.config.reload()
    return Backend(request.param, str(home), str(home / "files"), bucket)


@pytest.fixture
def current_store(backend: Backend) -> store.Store:
    """The store the files functions use right now."""
    return store.current_store()
