"""``cloud.files`` inside a job's sandbox: the job's key's files, reached through its
supervisor (the sandbox holds no S3 credentials and cannot read the local files folder).
Uploads stream in chunks the supervisor pulls; downloads are read a chunk at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from picloud.files.store import Opened
from picloud.files.streams import Readable, as_bytes


class _Pulled:
    """``source`` as the supervisor pulls it: bytes, text encoded as UTF-8."""

    def __init__(self, source: Readable) -> None:
        self._source = source

    def read(self, size: int = -1, /) -> bytes:
        return as_bytes(self._source.read(size))


class _Remote:
    """A stored file opened by the supervisor, read through it."""

    def __init__(self, call: Callable[..., Any], handle: int) -> None:
        self._call = call
        self._handle = handle

    def read(self, size: int = -1, /) -> bytes:
        return bytes(self._call("files.read", {"handle": self._handle, "size": size}))

    def close(self) -> None:
        if self._handle:
            self._call("files.close", {"handle": self._handle})
            self._handle = 0


class RelayedStore:
    """The Store protocol over the sandbox's link to its supervisor."""

    location = "the job's supervisor"

    def __init__(self, call: Callable[..., Any]) -> None:
        self._call = call

    def put(self, name: str, source: Readable, size_hint: int | None = None) -> str:
        return str(self._call("files.put", {"name": name, "size": size_hint}, _Pulled(source)))

    def open(self, name: str, start: int, end: int | None) -> Opened:
        found = self._call("files.open", {"name": name, "start": start, "end": end})
        return Opened(_Remote(self._call, int(found["handle"])), int(found["size"]), found["md5"])

    def md5(self, name: str) -> str:
        return str(self._call("files.md5", {"name": name}))

    def exists(self, name: str) -> bool:
        return bool(self._call("files.exists", {"name": name}))

    def names(self) -> list[str]:
        return [str(n) for n in self._call("files.names", {})]

    def delete(self, name: str) -> bool:
        return bool(self._call("files.delete", {"name": name}))
