"""Transfers that happen only when the content differs (compared by md5)."""

from __future__ import annotations

import logging
import os

from picloud.files.api import get, get_md5, putf
from picloud.files.errors import NoSuchFileError
from picloud.files.names import check_name
from picloud.files.streams import md5_of, md5_of_path

log = logging.getLogger("picloud.files")


def _remote_md5(name: str) -> str:
    """The stored file's md5, or '' when there is none (PiCloud's convention)."""
    try:
        return get_md5(name)
    except NoSuchFileError:
        return ""


def sync_to_cloud(source: str, name: str | None = None) -> bool:
    """``put(source, name)`` only if ``name`` (default: the basename of ``source``) is not
    stored or its md5 differs from the local file's. Returns True if it uploaded."""
    name = check_name(os.path.basename(source) if name is None else name)
    with open(source, "rb") as file:
        local_md5 = md5_of(file)
        remote_md5 = _remote_md5(name)
        log.debug("sync_to_cloud %s: local md5 %s, remote %r", name, local_md5, remote_md5)
        if local_md5 == remote_md5:
            return False
        file.seek(0)
        putf(file, name)
    return True


def sync_from_cloud(name: str, destination: str | None = None) -> bool:
    """``get(name, destination)`` only if ``destination`` (default: ``name``) is missing or its
    md5 differs from the stored file's. Returns True if it downloaded."""
    check_name(name)
    destination = destination or name
    if os.path.exists(destination):
        local_md5 = md5_of_path(destination)
        remote_md5 = _remote_md5(name)
        log.debug("sync_from_cloud %s: local md5 %s, remote %r", name, local_md5, remote_md5)
        if local_md5 == remote_md5:
            return False
    get(name, destination)
    return True
