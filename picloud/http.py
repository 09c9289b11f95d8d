"""The client side of the web UI's HTTP API (``server_url``), used by cloud.cron, cloud.rest
and cloud.account so that a client needs no database access: HTTP Basic by api key, JSON in
and out, the server's error text raised as CloudException."""

from __future__ import annotations

import os
from typing import Any

from picloud import broker, config, defaults
from picloud.exceptions import CloudException

#: Seconds to wait for the server (connect, read).
TIMEOUT = (5.0, 60.0)


class ApiClient:
    """Calls to one server as one api key (or a Django user, for cloud.account)."""

    def __init__(self, server_url: str, username: str, password: str) -> None:
        if not server_url:
            raise CloudException(
                "no server_url configured: call cloud.setkey(api_key, api_secretkey, "
                "server_url='http://host:8000/') or set PICLOUD_SERVER_URL"
            )
        import requests  # here: ``import cloud`` stays cheap

        self.base = server_url.rstrip("/") + "/"
        self.username = username
        self.session = requests.Session()
        self.session.auth = (username, password)
        # The environment's proxies and CA bundle are read once, here, by requests' own
        # reading of them: it reads them again on each request otherwise (all of os.environ,
        # twice), which was a third of the client's time per call.
        environment = self.session.merge_environment_settings(self.base, {}, None, None, None)
        self.session.trust_env = False
        self.session.proxies = environment["proxies"]
        self.session.verify = environment["verify"]
        settings = config.current()
        if settings.proxy_server:
            proxy = settings.proxy_server
            proxy = proxy if "://" in proxy else f"http://{proxy}"
            self.session.proxies = {"http": proxy, "https": proxy}
        if settings.http_close:
            self.session.headers["Connection"] = "close"
        if settings.server_ca_file:
            if not os.path.isfile(settings.server_ca_file):
                raise CloudException(
                    f"setting server_ca_file names {settings.server_ca_file!r}, which is not a file"
                )
            self.session.verify = settings.server_ca_file

    def close(self) -> None:
        """Close the connections this client keeps open (each pool's too: a pool a traceback
        still holds would otherwise keep its keep-alive sockets)."""
        for adapter in self.session.adapters.values():
            pools = adapter.poolmanager.pools
            for key in pools.keys():
                pools[key].close()
        self.session.close()

    def __del__(self) -> None:  # a client dropped without close() leaves no open socket
        if getattr(self, "session", None) is not None:
            self.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, method: str, url: str, **kwargs: Any) -> Any:
        """The ``requests`` response to ``method url``."""
        return self.session.request(method, url, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """``method path`` (relative to the server); the decoded JSON answer."""
        import requests

        url = self.base + path.lstrip("/")
        try:
            response = self.send(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise CloudException(f"cannot reach the picloud server at {self.base}: {exc}") from None
        if response.status_code >= 400:
            raise refusal(response, f"{method} {url}")
        try:
            return response.json()
        except ValueError:
            return None


def refusal(response: Any, what: str) -> CloudException:
    """What a server refused, as a CloudException carrying the HTTP status: its JSON
    ``error_msg``, else ``what`` and the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("error_msg") if isinstance(body, dict) else None
    return CloudException(
        message or f"{what} answered {response.status_code}", status=response.status_code
    )


def call(method: str, path: str, **kwargs: Any) -> Any:
    """One request through a fresh ``api_client()``, closed afterwards."""
    with api_client() as client:
        return client.request(method, path, **kwargs)


def api_client() -> ApiClient:
    """A client for the configured server_url as the configured (or local fleet's) api key."""
    settings = config.current()
    key, secret = broker.credentials(settings)
    if key == defaults.API_KEY or secret == defaults.API_SECRETKEY:
        raise CloudException("no API key configured: call cloud.setkey(api_key, api_secretkey)")
    return ApiClient(settings.server_url or broker.running_fleet_server_url(), key, secret)
