"""sync_to_cloud and sync_from_cloud transfer only when the md5s differ, on both stores."""

from __future__ import annotations

import os

import pytest

import cloud.files
from picloud.files import NoSuchFileError


@pytest.fixture
def uploads(current_store, monkeypatch) -> list[str]:
    """The names the store is asked to write, in order."""
    calls: list[str] = []
    original = current_store.put

    def counting_put(name, source, size_hint=None):
        calls.append(name)
        return original(name, source, size_hint)

    monkeypatch.setattr(current_store, "put", counting_put)
    return calls


def test_sync_to_cloud_uploads_a_missing_file_under_its_basename(backend, uploads, tmp_path):
    (tmp_path / "report.csv").write_bytes(b"a,b\n1,2\n")
    assert cloud.files.sync_to_cloud(str(tmp_path / "report.csv")) is True
    assert uploads == ["report.csv"]
    assert cloud.files.getf("report.csv").read() == b"a,b\n1,2\n"


def test_sync_to_cloud_skips_an_unchanged_file(backend, uploads, tmp_path):
    (tmp_path / "same.txt").write_bytes(b"unchanged")
    cloud.files.put(str(tmp_path / "same.txt"), "remote/same.txt")
    assert uploads == ["remote/same.txt"]

    assert cloud.files.sync_to_cloud(str(tmp_path / "same.txt"), "remote/same.txt") is False
    assert uploads == ["remote/same.txt"]  # no second upload


def test_sync_to_cloud_uploads_a_changed_file(backend, uploads, tmp_path):
    cloud.files.putf(b"old", "doc.txt")
    (tmp_path / "doc.txt").write_bytes(b"new content")

    assert cloud.files.sync_to_cloud(str(tmp_path / "doc.txt")) is True
    assert uploads == ["doc.txt", "doc.txt"]
    assert cloud.files.getf("doc.txt").read() == b"new content"


def test_sync_from_cloud_downloads_when_the_destination_is_missing(backend, tmp_path):
    cloud.files.putf(b"remote bytes", "data/r.bin")
    destination = tmp_path / "r.bin"
    assert cloud.files.sync_from_cloud("data/r.bin", str(destination)) is True
    assert destination.read_bytes() == b"remote bytes"


def test_sync_from_cloud_skips_an_unchanged_destination(backend, tmp_path):
    cloud.files.putf(b"same bytes", "s.bin")
    destination = tmp_path / "s.bin"
    destination.write_bytes(b"same bytes")
    before = os.stat(destination)

    assert cloud.files.sync_from_cloud("s.bin", str(destination)) is False
    after = os.stat(destination)  # a download would have renamed a new file into place
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_sync_from_cloud_replaces_a_changed_destination(backend, tmp_path):
    cloud.files.putf(b"fresh", "c.bin")
    destination = tmp_path / "c.bin"
    destination.write_bytes(b"stale")
    before = os.stat(destination)

    assert cloud.files.sync_from_cloud("c.bin", str(destination)) is True
    assert destination.read_bytes() == b"fresh"
    assert os.stat(destination).st_ino != before.st_ino


def test_sync_from_cloud_defaults_the_destination_to_the_name(backend, tmp_path):
    cloud.files.putf(b"x", "here.txt")
    assert cloud.files.sync_from_cloud("here.txt") is True  # cwd is tmp_path
    assert (tmp_path / "here.txt").read_bytes() == b"x"


def test_sync_from_cloud_of_a_missing_file_names_it(backend, tmp_path):
    (tmp_path / "local.txt").write_bytes(b"local only")
    with pytest.raises(NoSuchFileError, match="absent.txt"):
        cloud.files.sync_from_cloud("absent.txt", str(tmp_path / "local.txt"))
    assert (tmp_path / "local.txt").read_bytes() == b"local only"
