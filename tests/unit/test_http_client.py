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


def test_the_environments_proxies_and_ca_bundle_are_read_once_as_requests_reads_them(
    settings, monkeypatch
):
    settings()
    monkeypatch.setenv("HTTP_PROXY", "http://env-proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "near.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/bundle.pem")
    with ApiClient("http://picloud.example/", "1234", "secret") as client:
        assert client.session.proxies["http"] == "http://env-proxy.example:3128"
        assert client.session.verify == "/etc/bundle.pem"
        assert client.session.trust_env is False
    with ApiClient("http://near.example/", "1234", "secret") as client:
        assert client.session.proxies == {}
    settings(server_ca_file=__file__)
    with ApiClient("https://picloud.example/", "1234", "secret") as client:
        assert client.session.verify == __file__


def test_a_missing_server_url_is_named():
    with pytest.raises(CloudException, match="no server_url configured"):
        ApiClient("", "1234", "secret")
