"""Byte streams: chunked reading, md5 while reading, and writing a file atomically."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Iterator
from typing import Protocol

#: Bytes read or written at a time when streaming.
CHUNK_SIZE = 1 << 20


class Readable(Protocol):
    """Anything with ``read(n)``; picloud only ever asks for a bounded number of bytes."""

    def read(self, size: int = -1, /) -> bytes | str: ...


class HashingReader:
    """Reads ``source`` (bytes or text, text encoded as UTF-8), keeping its md5 and length.

    ``prefix`` is returned first, as if it had been read from ``source``.
    """

    def __init__(self, source: Readable, prefix: bytes = b"") -> None:
        self._source = source
        self._prefix = memoryview(prefix)
        self._md5 = hashlib.md5()
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left if ``size`` < 0); ``b''`` at the end."""
        if self._prefix:
            take = len(self._prefix) if size < 0 else min(size, len(self._prefix))
            data = bytes(self._prefix[:take])
            self._prefix = self._prefix[take:]
            if size < 0:
                data += as_bytes(self._source.read())
        else:
            data = as_bytes(self._source.read(size))
        self._md5.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str:
        """The md5 of everything read so far."""
        return self._md5.hexdigest()


def as_bytes(data: bytes | str) -> bytes:
    """``data`` as bytes (text as UTF-8); TypeError for anything else."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"read() returned {type(data).__name__}, expected bytes or str")
    return bytes(data)


def read_upto(source: Readable, size: int) -> bytes:
    """Read ``size`` bytes, or fewer only at the end of ``source``."""
    parts, left = [], size
    while left > 0:
        data = as_bytes(source.read(left))
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def chunks(source: Readable, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The bytes of ``source`` in chunks of at most ``size``."""
    while data := as_bytes(source.read(size)):
        yield data


def md5_of(source: Readable) -> str:
    """md5 hex digest of what is left to read in ``source``."""
    digest = hashlib.md5()
    for data in chunks(source):
        digest.update(data)
    return digest.hexdigest()


def md5_of_path(path: str) -> str:
    """md5 hex digest of the file at ``path``."""
    with open(path, "rb") as file:
        return md5_of(file)


def remaining_size(source: object) -> int | None:
    """Bytes left in a seekable binary ``source``, or None when that cannot be known cheaply."""
    if isinstance(source, io.TextIOBase):
        return None
    try:
        if not source.seekable():  # type: ignore[attr-defined]
            return None
        here = source.tell()  # type: ignore[attr-defined]
        end = source.seek(0, os.SEEK_END)  # type: ignore[attr-defined]
        source.seek(here)  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None
    return max(0, end - here)


def write_atomically(path: str, source: Readable, tmp_dir: str | None = None) -> os.stat_result:
    """Write ``source`` to ``path`` through a temporary file and a rename, in chunks.

    The temporary file lives in ``tmp_dir`` (same file system as ``path``) or next to ``path``.
    Returns the file's stat taken before the rename (the rename keeps size, mtime and inode).
    """
    folder = tmp_dir or os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{secrets.token_hex(8)}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "wb") as out:
            for data in chunks(source):
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
            stat = os.fstat(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return stat


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
