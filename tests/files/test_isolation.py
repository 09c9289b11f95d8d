"""Each API key sees only its own files, on both stores."""

from __future__ import annotations

import pytest

import cloud.files
from picloud.files import NoSuchFileError


def test_keys_cannot_see_get_or_delete_each_others_files(backend, monkeypatch):
    backend.use_key(monkeypatch, "1001")
    cloud.files.putf(b"mine", "shared-name.txt")
    cloud.files.putf(b"private", "only-1001.txt")

    backend.use_key(monkeypatch, "2002")
    assert cloud.files.list() == []
    assert cloud.files.exists("only-1001.txt") is False
    with pytest.raises(NoSuchFileError):
        cloud.files.getf("only-1001.txt")
    with pytest.raises(NoSuchFileError):
        cloud.files.get_md5("only-1001.txt")
    assert cloud.files.delete("only-1001.txt") is False
    cloud.files.putf(b"theirs", "shared-name.txt")
    assert cloud.files.list() == ["shared-name.txt"]

    backend.use_key(monkeypatch, "1001")
    assert cloud.files.list() == ["only-1001.txt", "shared-name.txt"]
    assert cloud.files.getf("shared-name.txt").read() == b"mine"
    assert cloud.files.getf("only-1001.txt").read() == b"private"


def test_a_key_cannot_reach_another_key_by_name(backend, monkeypatch):
    backend.use_key(monkeypatch, "1001")
    cloud.files.putf(b"secret", "s.txt")
    backend.use_key(monkeypatch, "2002")
    for name in ["../1001/s.txt", "1001/s.txt"]:
        with pytest.raises((ValueError, NoSuchFileError)):
            cloud.files.getf(name)
