"""LocalFolderStore: one API key's files in ``<config dir>/files/<api_key>/``.

Beside the keys' folders, ``files/.tmp/`` holds uploads in progress (renamed into place when
complete) and ``files/.md5/<api_key>/<name>`` caches each file's md5 with the size, mtime and
inode it was computed for. API keys never start with ``.``, so neither collides with a key.
"""

from __future__ import annotations

import io
import os

from picloud.exceptions import CloudException
from picloud.files.errors import InvalidFileNameError, NoSuchFileError
from picloud.files.names import is_valid_name
from picloud.files.store import Opened
from picloud.files.streams import HashingReader, Readable, md5_of, write_atomically


class LocalFolderStore:
    """One API key's files in a local folder; writes are atomic (temporary file + rename)."""

    def __init__(self, files_root: str, api_key: str) -> None:
        self.root = os.path.join(files_root, api_key)
        self.location = self.root
        self._tmp = os.path.join(files_root, ".tmp")
        self._md5_root = os.path.join(files_root, ".md5", api_key)

    def put(self, name: str, source: Readable, size_hint: int | None = None) -> str:
        path = self._path(name)
        for folder in (os.path.dirname(path), self._tmp):
            _makedirs(folder, name)
        reader = HashingReader(source)
        try:
            written = write_atomically(path, reader, self._tmp)
        except IsADirectoryError:
            raise CloudException(f"cannot store {name!r}: a folder of that name exists") from None
        md5 = reader.hexdigest()
        self._remember_md5(name, md5, written)
        return md5

    def open(self, name: str, start: int, end: int | None) -> Opened:
        path = self._path(name)
        try:
            file = open(path, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NoSuchFileError(name) from None
        size = os.fstat(file.fileno()).st_size
        last = size - 1 if end is None else min(end, size - 1)
        if start > last:
            file.close()
            return Opened(io.BytesIO(), size)
        file.seek(start)
        return Opened(_Limited(file, last - start + 1), size)

    def md5(self, name: str) -> str:
        path = self._path(name)
        try:
            with open(path, "rb") as file:
                found = os.fstat(file.fileno())
                cached = self._cached_md5(name, found)
                if cached:
                    return cached
                md5 = md5_of(file)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NoSuchFileError(name) from None
        self._remember_md5(name, md5, found)
        return md5

    def exists(self, name: str) -> bool:
        return os.path.isfile(self._path(name))

    def names(self) -> list[str]:
        found = []
        real_root = os.path.realpath(self.root)
        for folder, _dirs, files in os.walk(self.root):
            for file_name in files:
                path = os.path.join(folder, file_name)
                name = os.path.relpath(path, self.root).replace(os.sep, "/")
                if is_valid_name(name) and _inside(real_root, path) and os.path.isfile(path):
                    found.append(name)
        return sorted(found)

    def delete(self, name: str) -> bool:
        path = self._path(name)
        if not os.path.isfile(path):
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        _prune(os.path.dirname(path), self.root)
        md5_path = self._md5_path(name)
        try:
            os.unlink(md5_path)
        except OSError:
            pass
        else:
            _prune(os.path.dirname(md5_path), self._md5_root)
        return True

    def _path(self, name: str) -> str:
        """The path of ``name``; InvalidFileNameError if it resolves outside the key's folder."""
        path = os.path.join(self.root, *name.split("/"))
        if not _inside(os.path.realpath(self.root), path):
            raise InvalidFileNameError(name, f"resolves outside {self.root}")
        return path

    def _md5_path(self, name: str) -> str:
        return os.path.join(self._md5_root, *name.split("/"))

    def _cached_md5(self, name: str, found: os.stat_result) -> str | None:
        try:
            with open(self._md5_path(name), encoding="ascii") as file:
                md5, *recorded = file.read().split()
        except (OSError, ValueError):
            return None
        return md5 if recorded == _stamp(found) else None

    def _remember_md5(self, name: str, md5: str, found: os.stat_result) -> None:
        """Cache ``md5`` for the file ``found`` describes; a cache that cannot be written is
        only slower."""
        path = self._md5_path(name)
        if not _inside(os.path.realpath(self._md5_root), path):
            return
        line = " ".join([md5, *_stamp(found)]) + "\n"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_atomically(path, io.BytesIO(line.encode("ascii")), self._tmp)
        except OSError:
            pass


class _Limited:
    """At most ``left`` bytes of ``file``, then EOF."""

    def __init__(self, file: io.BufferedReader, left: int) -> None:
        self._file = file
        self._left = left

    def read(self, size: int = -1, /) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._file.read(size) if size else b""
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._file.close()


def _stamp(found: os.stat_result) -> list[str]:
    return [str(found.st_size), str(found.st_mtime_ns), str(found.st_ino)]


def _inside(real_root: str, path: str) -> bool:
    """Whether ``path``, with every symlink resolved, is strictly under ``real_root``."""
    return os.path.realpath(path).startswith(real_root + os.sep)


def _makedirs(folder: str, name: str) -> None:
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise CloudException(
            f"cannot store {name!r}: a file stands where a folder of its path should be"
        ) from None


def _prune(folder: str, root: str) -> None:
    """Remove ``folder`` and its parents while they are empty, stopping at ``root``."""
    while os.path.abspath(folder).startswith(os.path.abspath(root) + os.sep):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)
