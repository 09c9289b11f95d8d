"""CloudFile: a stored file (or a byte range of it) as a read-only, forward-only stream."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

from picloud.files.store import ByteStream

#: Read-ahead buffer of a CloudFile.
BUFFER_SIZE = 64 * 1024


class _Raw(io.RawIOBase):
    """A ByteStream as a raw stream, so io.BufferedReader can give lines."""

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._stream.close()
            finally:
                super().close()


class CloudFile:
    """A file stored on picloud as a read-only stream; seeking is not available.

    ``tell()`` starts at ``start_byte`` and grows by the bytes read. ``filesize()`` is the whole
    file's size and ``end()`` PiCloud's ``end_byte`` (clamped to the size; the size when None).
    Iterating yields lines. Use it in a ``with`` block, or call ``close()``.
    """

    def __init__(
        self,
        stream: ByteStream,
        file_size: int,
        start_byte: int = 0,
        end_byte: int | None = None,
        md5: str | Callable[[], str] | None = None,
        name: str = "",
    ) -> None:
        self._buffer = io.BufferedReader(_Raw(stream), BUFFER_SIZE)
        self._file_size = file_size
        self._start = start_byte
        self._end = file_size if end_byte is None else min(end_byte, file_size)
        self._pos = start_byte
        self._md5 = md5
        self.name = name

    @property
    def md5(self) -> str:
        """The md5 checksum of the whole file's contents (hex)."""
        if callable(self._md5):
            self._md5 = self._md5()
        return self._md5 or ""

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._buffer.closed

    def read(self, size: int = -1) -> bytes:
        """At most ``size`` bytes; everything left if ``size`` is negative or omitted."""
        return self._advance(self._buffer.read(-1 if size is None or size < 0 else size))

    def readline(self, size: int = -1) -> bytes:
        """The next line, newline kept; at most ``size`` bytes if ``size`` >= 0; b'' at EOF."""
        return self._advance(self._buffer.readline(size))

    def readlines(self, sizehint: int = 0) -> list[bytes]:
        """The remaining lines, stopping once about ``sizehint`` bytes are read (0 = all)."""
        lines = self._buffer.readlines(sizehint if sizehint > 0 else -1)
        self._pos += sum(len(line) for line in lines)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    next = __next__

    def tell(self) -> int:
        """The current position in the file."""
        return self._pos

    def filesize(self) -> int:
        """Size of the whole stored file, in bytes."""
        return self._file_size

    def end(self) -> int:
        """``end_byte`` as given, clamped to the file size; the file size when it was None."""
        return self._end

    def close(self) -> None:
        """Close the file, blocking further I/O (and releasing its connection)."""
        self._buffer.close()

    def __enter__(self) -> CloudFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<CloudFile {self.name!r} at {self._pos} of {self._file_size} bytes>"

    def _advance(self, data: bytes) -> bytes:
        self._pos += len(data)
        return data
