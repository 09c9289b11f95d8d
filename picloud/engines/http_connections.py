"""The HTTP engine's requests to its server, on kept-alive connections of the standard
library's ``http.client``.

Written here rather than left to ``requests``: a call+result over HTTP is two requests, and per
request ``requests`` costs the client 0.6 ms of CPU, ``urllib3`` (under it) 0.3 ms, and
``http.client`` (under both) 0.16 ms. What this adds to ``http.client`` is small: a set of idle
connections shared by the client's threads, a connection the server closed while idle is not
reused, and the TLS settings ``picloud.http.ApiClient`` settled (the CA bundle, the environment's
included). Through a proxy, requests go by ``requests`` as before: its proxy handling (CONNECT
tunnels, proxy credentials) is not worth writing again for a path that is slow anyway."""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import select_proxy
from urllib3.util.wait import wait_for_read

from picloud.http import ApiClient

#: Idle connections kept at most (one per thread waiting at once is the most ever needed).
MAX_IDLE = 8
#: Headers of requests' own that mean nothing here (the body is never compressed).
_DROPPED = {"accept-encoding"}


@dataclass(frozen=True)
class Answer:
    """The server's answer: status, headers (looked up case-insensitively) and body."""

    status_code: int
    headers: Message | Mapping[str, str]  # http.client's, or requests' when proxied
    content: bytes

    def json(self) -> Any:
        """The body as JSON (ValueError if it is not)."""
        return json.loads(self.content)


class Unreachable(Exception):
    """No answer came (refused, cut, timed out). ``reused``: the request went on a kept
    connection, which the server may have closed while it was idle."""

    def __init__(self, problem: object, reused: bool = False) -> None:
        super().__init__(str(problem))
        self.reused = reused


class CertificateRefused(Exception):
    """The server's HTTPS certificate was not accepted."""


class Connections:
    """POSTs to ``client``'s server as its api key, each on a kept-alive connection."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        parts = urlsplit(client.base)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path or "/"
        self._proxied = select_proxy(client.base, client.session.proxies) is not None
        self._tls = _tls_context(client.session.verify) if self._https else None
        session = client.session
        self._headers = {k: v for k, v in session.headers.items() if k.lower() not in _DROPPED}
        name, secret = session.auth  # type: ignore[misc]
        token = base64.b64encode(f"{name}:{secret}".encode()).decode()
        self._headers["Authorization"] = f"Basic {token}"
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def post(
        self, path: str, body: bytes, headers: dict[str, str], timeout: tuple[float, float]
    ) -> Answer:
        """POST ``body`` to ``path`` (relative to the server's URL)."""
        if self._proxied:
            return self._post_by_requests(path, body, headers, timeout)
        connection, reused = self._connection(timeout[0])
        try:
            if not reused:
                connection.connect()
            connection.sock.settimeout(timeout[1])
            connection.request("POST", self._path + path, body, {**self._headers, **headers})
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.read())
        except ssl.SSLError as exc:
            connection.close()
            raise CertificateRefused(exc) from None
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise Unreachable(exc, reused) from None
        if response.will_close:
            connection.close()
        else:
            self._keep(connection)
        return answer

    def _connection(self, connect_timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection still open, else a new one (not yet connected); and whether it
        was kept."""
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._open(connect_timeout), False
            # an idle HTTP/1.1 connection with something to read: the server closed it
            if connection.sock is not None and not wait_for_read(connection.sock, timeout=0.0):
                return connection, True
            connection.close()

    def _open(self, connect_timeout: float) -> http.client.HTTPConnection:
        if self._tls is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=connect_timeout, context=self._tls
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=connect_timeout)

    def _keep(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(connection)
                return
        connection.close()

    def _post_by_requests(
        self, path: str, body: bytes, headers: dict[str, str], timeout: tuple[float, float]
    ) -> Answer:
        try:
            response = self.client.send(
                "POST", self.client.base + path, data=body, headers=headers, timeout=timeout
            )
        except requests.exceptions.SSLError as exc:
            raise CertificateRefused(exc) from None
        except requests.RequestException as exc:
            raise Unreachable(exc) from None
        return Answer(response.status_code, response.headers, response.content)

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def __del__(self) -> None:  # dropped without close(): no socket is left open
        if getattr(self, "_idle", None):
            self.close()


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    """The TLS settings requests would use for ``verify`` (True: certifi's CA bundle, as
    requests' default; a file or folder of CAs; False: no check)."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if verify is True:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)
