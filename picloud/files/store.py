"""The Store protocol every file backend implements, and choosing one from the settings."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Protocol

from picloud import broker, config, runtime
from picloud.config import Settings
from picloud.files.names import check_api_key
from picloud.files.streams import Readable


class ByteStream(Protocol):
    """A readable, closable stream of bytes."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass
class Opened:
    """A file opened for reading: a stream over the requested range, the whole file's size, and
    its md5 when the store had it at hand (None: ask ``Store.md5``)."""

    stream: ByteStream
    size: int
    md5: str | None = None


class Store(Protocol):
    """One API key's files. Names reaching a store have passed ``names.check_name``."""

    #: Where the files live, for messages (a folder or an endpoint and bucket).
    location: str

    def put(self, name: str, source: Readable, size_hint: int | None = None) -> str:
        """Store what is left in ``source`` as ``name`` (replacing it); return its md5."""
        ...

    def open(self, name: str, start: int, end: int | None) -> Opened:
        """Bytes ``start``..``end`` (inclusive; None = the end) of ``name``; NoSuchFileError if
        missing. A range past the end gives an empty stream."""
        ...

    def md5(self, name: str) -> str:
        """md5 hex digest of the content of ``name``; NoSuchFileError if missing."""
        ...

    def exists(self, name: str) -> bool:
        """Whether ``name`` is stored."""
        ...

    def names(self) -> list[str]:
        """Every stored name, sorted."""
        ...

    def delete(self, name: str) -> bool:
        """Remove ``name``; False if there was no such file."""
        ...


def current_store() -> Store:
    """The store for the settings in force (built on first use in this process, then reused);
    the key is the one jobs are signed with (the local fleet's when none is set). Inside a
    job's sandbox: the job's key's files, through its supervisor; for a client that reaches
    the fleet only through server_url, through the server."""
    if runtime.supervisor is not None:
        from picloud.files.relayed import RelayedStore

        return RelayedStore(runtime.supervisor)
    settings = config.current()
    if not settings.s3_endpoint and broker.through_server(settings):
        return _served(os.getpid(), settings)
    return store_of(broker.credentials(settings)[0])


@functools.lru_cache(maxsize=4)
def _served(pid: int, settings: Settings) -> Store:
    """The files of the configured key through server_url (one client per process)."""
    from picloud import http
    from picloud.files.served import ServedStore

    return ServedStore(http.api_client())


def store_of(api_key: str) -> Store:
    """The store of ``api_key``'s files, as this process's settings place them."""
    return _build(os.getpid(), config.current(), config.getconfigpath(), api_key)


@functools.lru_cache(maxsize=8)
def _build(pid: int, settings: Settings, home: str, api_key: str) -> Store:
    """A store per process (a forked worker must not share the parent's connections)."""
    api_key = check_api_key(api_key)
    if settings.s3_endpoint:
        from picloud.files.s3 import S3Store

        return S3Store.from_settings(settings, api_key)
    from picloud.files.local import LocalFolderStore

    return LocalFolderStore(os.path.join(home, "files"), api_key)
