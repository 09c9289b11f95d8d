"""File names: what ``cloud.files`` accepts, checked before any store sees them."""

from __future__ import annotations

from picloud.exceptions import ConfigError
from picloud.files.errors import InvalidFileNameError

#: Longest name, in bytes of UTF-8 (S3's limit on an object key).
MAX_NAME_BYTES = 1024
#: Longest ``/``-separated segment, in bytes of UTF-8 (the usual file system limit).
MAX_SEGMENT_BYTES = 255


def check_name(name: object) -> str:
    """Return ``name`` if it is a safe relative name; raise InvalidFileNameError saying why not.

    Allowed: ``/``-separated segments such as ``data/a.txt``. Rejected: empty names, absolute
    paths, empty, ``.`` or ``..`` segments, backslashes, NUL, names that are not valid UTF-8,
    and names over 1024 bytes or with a segment over 255 bytes.
    """
    if not isinstance(name, str):
        raise InvalidFileNameError(name, f"must be a str, not {type(name).__name__}")
    if not name:
        raise InvalidFileNameError(name, "is empty")
    if "\x00" in name:
        raise InvalidFileNameError(name, "contains a NUL character")
    if "\\" in name:
        raise InvalidFileNameError(name, "contains a backslash")
    if name.startswith("/"):
        raise InvalidFileNameError(name, "is an absolute path")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidFileNameError(name, "is not valid UTF-8") from None
    if size > MAX_NAME_BYTES:
        raise InvalidFileNameError(name, f"is {size} bytes long (at most {MAX_NAME_BYTES})")
    for segment in name.split("/"):
        _check_segment(name, segment)
    return name


def _check_segment(name: str, segment: str) -> None:
    if segment == "..":
        raise InvalidFileNameError(name, "contains a '..' segment")
    if segment in ("", "."):
        raise InvalidFileNameError(name, f"contains an empty or '.' segment ({segment!r})")
    size = len(segment.encode("utf-8"))
    if size > MAX_SEGMENT_BYTES:
        raise InvalidFileNameError(
            name, f"has a segment of {size} bytes (at most {MAX_SEGMENT_BYTES})"
        )


def is_valid_name(name: str) -> bool:
    """Whether ``check_name`` accepts ``name``."""
    try:
        check_name(name)
    except InvalidFileNameError:
        return False
    return True


def check_api_key(api_key: str) -> str:
    """Return ``api_key`` if it can name a key's space (one segment, not starting with ``.``)."""
    if "/" in api_key or api_key.startswith(".") or not is_valid_name(api_key):
        raise ConfigError(
            f"setting api_key must be one path segment not starting with '.', got {api_key!r}"
        )
    return api_key
