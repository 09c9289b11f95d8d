"""``cloud.files`` through the web UI's HTTP API (``/api/files/``), for a client that reaches
the fleet only through server_url (picloud.engines.http): the server reads and writes the
request's key's files in the fleet's store. Uploads stream; downloads stream a range."""

from __future__ import annotations

from typing import Any

from picloud.exceptions import CloudException
from picloud.files.errors import NoSuchFileError
from picloud.files.store import Opened
from picloud.files.streams import CHUNK_SIZE, Readable, as_bytes
from picloud.http import ApiClient, refusal


def _body(source: Readable) -> Any:
    """What to PUT: an open binary file as itself (requests streams it, with its length),
    anything else read whole (a chunked body is not something every WSGI server reads)."""
    try:
        source.fileno()  # type: ignore[attr-defined]
        source.tell()  # type: ignore[attr-defined]
        if "b" in getattr(source, "mode", ""):
            return source
    except (AttributeError, OSError, ValueError):
        pass
    chunks = []
    while data := as_bytes(source.read(CHUNK_SIZE)):
        chunks.append(data)
    return b"".join(chunks)


class _Download:
    """The body of a GET, read as it arrives."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._raw = response.raw

    def read(self, size: int = -1, /) -> bytes:
        return bytes(self._raw.read(None if size < 0 else size, decode_content=True) or b"")

    def close(self) -> None:
        self._response.close()


class ServedStore:
    """The Store protocol over HTTP, as the client's api key."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        self.location = f"{client.base}api/files/"

    def _request(self, method: str, name: str | None, **kwargs: Any) -> Any:
        import requests

        params = {**kwargs.pop("params", {}), **({"name": name} if name is not None else {})}
        try:
            response = self._client.send(
                method, self.location, params=params, timeout=(5.0, 300.0), **kwargs
            )
        except requests.RequestException as exc:
            raise CloudException(f"cannot reach the picloud server at {self.location}: {exc}")
        if response.status_code >= 400:
            refused = refusal(response, f"{method} {self.location}")
            response.close()
            if response.status_code == 404 and name is not None:
                raise NoSuchFileError(name)
            raise refused
        return response

    def put(self, name: str, source: Readable, size_hint: int | None = None) -> str:
        return str(self._request("PUT", name, data=_body(source)).json()["md5"])

    def open(self, name: str, start: int, end: int | None) -> Opened:
        params = {"start": start, **({"end": end} if end is not None else {})}
        response = self._request("GET", name, params=params, stream=True)
        size = int(response.headers["X-Picloud-Size"])
        return Opened(_Download(response), size, response.headers.get("X-Picloud-Md5") or None)

    def md5(self, name: str) -> str:
        return str(self._request("GET", name, params={"what": "md5"}).json()["md5"])

    def exists(self, name: str) -> bool:
        return bool(self._request("GET", name, params={"what": "exists"}).json()["exists"])

    def names(self) -> list[str]:
        return [str(n) for n in self._request("GET", None).json()["names"]]

    def delete(self, name: str) -> bool:
        return bool(self._request("DELETE", name).json()["deleted"])
