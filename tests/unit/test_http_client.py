"""The HTTP client of cloud.cron/rest/account applies proxy_server and http_close, and names a
missing server_url."""

from __future__ import annotations

import pytest

import picloud.config
from picloud.exceptions import CloudException
from picloud.http import ApiClient


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch):
    def apply(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(f"PICLOUD_{name.upper()}", value)
        picloud.config.reload()

    yield apply
    monkeypatch.undo()
    picloud.config.reload()


def test_proxy_server_and_http_close_are_applied(settings):
    settings(proxy_server="proxy.example:3128", http_close="1")
    with ApiClient("http://picloud.example/", "1234", "secret") as client:
        assert client.session.proxies == {
            "http": "http://proxy.example:3128",
            "https": "http://proxy.example:3128",
        }
        assert client.session.headers["Connection"] == "close"


def test_defaults_use_no_proxy_and_keep_connections(settings):
    settings()
    with ApiClient("http://picloud.example/", "1234", "secret") as client:
        assert client.session.proxies == {}
        assert client.session.headers["Connection"] == "keep-alive"


def test_a_missing_server_url_is_named():
    with pytest.raises(CloudException, match="no server_url configured"):
        ApiClient("", "1234", "secret")
