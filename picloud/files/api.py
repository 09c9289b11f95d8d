"""The ``cloud.files`` functions: put, get and manage the current API key's stored files."""

from __future__ import annotations

import io
import os
from typing import Any

from picloud.files.cloudfile import CloudFile
from picloud.files.names import check_name
from picloud.files.store import current_store
from picloud.files.streams import CHUNK_SIZE, remaining_size, write_atomically

#: Bytes per write when ``get`` saves a file (PiCloud's value).
GET_CHUNK_SIZE = 64000


def put(source: str, name: str | None = None) -> None:
    """Store the local file ``source`` as ``name`` (default: the basename of ``source``).

    Example: ``put('data/names.txt')`` stores it as ``'names.txt'``; ``get('names.txt')``
    fetches it back. An existing file of that name is replaced.
    """
    name = check_name(os.path.basename(source) if name is None else name)
    putf(open(source, "rb"), name)


def putf(f: Any, name: str) -> None:
    """Store the contents of ``f`` (a file object, or a str/bytes) as ``name``.

    ``f`` is read from its current position (it is not rewound) and closed afterwards, even on
    error. A file object is streamed in chunks, never held whole in memory; a str or bytes is,
    by nature, held in memory entirely. A str or a text-mode file is stored as UTF-8. An
    existing file of that name is replaced.
    """
    try:
        check_name(name)
        source = _as_source(f)
        current_store().put(name, source, remaining_size(source))
    finally:
        close = getattr(f, "close", None)
        if callable(close):
            close()


def _as_source(f: Any) -> Any:
    """A readable for ``f``: a str/bytes becomes an in-memory stream."""
    if isinstance(f, str):
        f = f.encode("utf-8")
    if isinstance(f, bytes | bytearray | memoryview):
        return io.BytesIO(f)
    if not callable(getattr(f, "read", None)):
        raise TypeError(f"putf needs a file object, str or bytes, not {type(f).__name__}")
    return f


def getf(name: str, start_byte: int = 0, end_byte: int | None = None) -> CloudFile:
    """Open the stored file ``name`` as a CloudFile, a read-only stream.

    Only bytes ``start_byte`` to ``end_byte`` (inclusive: ``getf(n, 0, 9)`` gives 10 bytes) are
    readable; an ``end_byte`` of None or past the end means the end of the file, and
    ``tell()`` starts at ``start_byte``. Raises TypeError for non-int bounds, ValueError for
    negative ones, and NoSuchFileError (a CloudException) if ``name`` is not stored.
    """
    check_name(name)
    start_byte = 0 if start_byte is None else start_byte
    for label, value in (("start_byte", start_byte), ("end_byte", end_byte)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{label} must be an integer, not {type(value).__name__}")
        if value is not None and value < 0:
            raise ValueError(f"{label} must not be negative, got {value}")
    store = current_store()
    opened = store.open(name, start_byte, end_byte)
    md5 = opened.md5 or (lambda: store.md5(name))
    return CloudFile(opened.stream, opened.size, start_byte, end_byte, md5=md5, name=name)


def get(
    name: str, destination: str | None = None, start_byte: int = 0, end_byte: int | None = None
) -> None:
    """Save the stored file ``name`` (or bytes ``start_byte``..``end_byte`` of it, as in
    ``getf``) to the local path ``destination`` (default: ``name``, relative to the current
    folder).

    Written in chunks to a temporary file renamed into place, so a failed download leaves any
    previous ``destination`` untouched. Raises NoSuchFileError if ``name`` is not stored.
    """
    destination = destination or name
    with getf(name, start_byte, end_byte) as cloud_file:
        write_atomically(destination, _Chunked(cloud_file))


class _Chunked:
    """Reads of at most GET_CHUNK_SIZE bytes, however many ``write_atomically`` asks for."""

    def __init__(self, cloud_file: CloudFile) -> None:
        self._file = cloud_file

    def read(self, size: int = CHUNK_SIZE, /) -> bytes:
        return self._file.read(GET_CHUNK_SIZE if size < 0 else min(size, GET_CHUNK_SIZE))


def list_files() -> list[str]:
    """The names of every stored file, sorted (``cloud.files.list``)."""
    return current_store().names()


def exists(name: str) -> bool:
    """Whether a file named ``name`` is stored."""
    return current_store().exists(check_name(name))


def delete(name: str) -> bool:
    """Delete the stored file ``name``; True if it was deleted, False if there was none."""
    return current_store().delete(check_name(name))


def get_md5(name: str, log_missing_file_error: bool = True) -> str:
    """The md5 hex digest of the stored file ``name``'s contents.

    Raises NoSuchFileError (a CloudException) if it is not stored. ``log_missing_file_error``
    is accepted for PiCloud compatibility and has no effect.
    """
    return current_store().md5(check_name(name))
