"""put, putf, get, list, exists, delete and get_md5, on both stores."""

from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest

import cloud.files
from picloud.exceptions import CloudException
from picloud.files import NoSuchFileError


def test_put_stores_under_the_basename_and_get_fetches_it(backend, tmp_path):
    source = tmp_path / "data" / "names.txt"
    source.parent.mkdir()
    source.write_bytes(b"alice\nbob\n")

    assert cloud.files.put(str(source)) is None
    assert cloud.files.list() == ["names.txt"]

    assert cloud.files.get("names.txt", str(tmp_path / "copy.txt")) is None
    assert (tmp_path / "copy.txt").read_bytes() == b"alice\nbob\n"


def test_put_with_a_name_and_get_to_the_name_by_default(backend, tmp_path):
    source = tmp_path / "local.bin"
    source.write_bytes(bytes(range(256)))
    cloud.files.put(str(source), "remote.bin")

    cloud.files.get("remote.bin")  # destination defaults to the name, in the cwd (tmp_path)

    assert (tmp_path / "remote.bin").read_bytes() == bytes(range(256))


def test_get_writes_a_byte_range(backend, tmp_path):
    cloud.files.putf(b"0123456789", "digits")
    cloud.files.get("digits", str(tmp_path / "part"), 2, 5)
    assert (tmp_path / "part").read_bytes() == b"2345"


def test_putf_reads_from_the_current_position_and_closes_the_file(backend):
    f = io.BytesIO(b"header|body")
    f.read(7)
    cloud.files.putf(f, "body.txt")
    assert f.closed
    assert cloud.files.getf("body.txt").read() == b"body"


def test_putf_closes_the_file_even_when_it_fails(backend):
    f = io.BytesIO(b"never stored")
    with pytest.raises(ValueError):
        cloud.files.putf(f, "../bad")
    assert f.closed


def test_putf_of_a_real_file_object(backend, tmp_path):
    (tmp_path / "real.txt").write_bytes(b"on disk")
    f = open(tmp_path / "real.txt", "rb")
    cloud.files.putf(f, "real.txt")
    assert f.closed
    with cloud.files.getf("real.txt") as cloud_file:
        assert cloud_file.read() == b"on disk"


@pytest.mark.parametrize(
    ("content", "stored"),
    [("héllo", "héllo".encode()), (b"\x00\xffraw", b"\x00\xffraw"), ("", b"")],
)
def test_putf_of_str_and_bytes(backend, content, stored):
    cloud.files.putf(content, "value")
    with cloud.files.getf("value") as cloud_file:
        assert cloud_file.read() == stored
        assert cloud_file.filesize() == len(stored)


def test_putf_of_a_text_mode_file_stores_utf8(backend, tmp_path):
    (tmp_path / "t.txt").write_text("naïve\n", encoding="utf-8")
    cloud.files.putf(open(tmp_path / "t.txt", encoding="utf-8"), "t.txt")
    assert cloud.files.getf("t.txt").read() == "naïve\n".encode()


def test_putf_rejects_something_that_is_not_a_file(backend):
    with pytest.raises(TypeError, match="int"):
        cloud.files.putf(42, "n")
    assert cloud.files.list() == []


def test_overwriting_replaces_content_and_md5(backend):
    cloud.files.putf(b"first version", "doc")
    cloud.files.putf(b"second", "doc")
    assert cloud.files.getf("doc").read() == b"second"
    assert cloud.files.get_md5("doc") == hashlib.md5(b"second").hexdigest()
    assert cloud.files.list() == ["doc"]


def test_subfolders_and_list_relative_names(backend):
    for name in ["b.txt", "data/a.txt", "data/deep/c.txt", ".hidden"]:
        cloud.files.putf(name.encode(), name)
    assert cloud.files.list() == [".hidden", "b.txt", "data/a.txt", "data/deep/c.txt"]
    assert cloud.files.getf("data/deep/c.txt").read() == b"data/deep/c.txt"


def test_list_is_empty_at_first(backend):
    assert cloud.files.list() == []


def test_exists(backend):
    assert cloud.files.exists("x") is False
    cloud.files.putf(b"x", "x")
    assert cloud.files.exists("x") is True
    assert cloud.files.exists("data/x") is False


def test_delete(backend):
    cloud.files.putf(b"gone soon", "data/old.txt")
    cloud.files.putf(b"stays", "data/keep.txt")

    assert cloud.files.delete("data/old.txt") is True
    assert cloud.files.exists("data/old.txt") is False
    assert cloud.files.list() == ["data/keep.txt"]
    assert cloud.files.delete("data/old.txt") is False
    assert cloud.files.delete("never-was") is False


def test_delete_then_get_names_the_missing_file(backend):
    cloud.files.putf(b"x", "short-lived")
    cloud.files.delete("short-lived")
    with pytest.raises(CloudException, match="short-lived"):
        cloud.files.getf("short-lived")


@pytest.mark.parametrize("size", [0, 1, 1000, 9 << 20])  # 9 MiB: an S3 multipart upload
def test_get_md5_is_the_md5_of_the_content(backend, size):
    content = os.urandom(size)
    cloud.files.putf(io.BytesIO(content), "blob")
    expected = hashlib.md5(content).hexdigest()
    assert cloud.files.get_md5("blob") == expected
    with cloud.files.getf("blob") as cloud_file:
        assert cloud_file.md5 == expected
        assert cloud_file.read() == content


def test_multipart_upload_from_a_stream_that_cannot_seek(backend):
    content = os.urandom(9 << 20)
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with open(write_fd, "wb") as writer:
            writer.write(content)

    feeder = threading.Thread(target=feed)
    feeder.start()
    cloud.files.putf(open(read_fd, "rb"), "piped")
    feeder.join()

    assert cloud.files.get_md5("piped") == hashlib.md5(content).hexdigest()
    assert cloud.files.getf("piped").read() == content


@pytest.mark.parametrize(
    "call",
    [
        lambda: cloud.files.getf("missing.txt"),
        lambda: cloud.files.get("missing.txt", "dest"),
        lambda: cloud.files.get_md5("missing.txt"),
        lambda: cloud.files.getf("missing.txt", 3, 5),
    ],
    ids=["getf", "get", "get_md5", "getf-range"],
)
def test_missing_file_raises_cloud_exception_naming_it(backend, tmp_path, call):
    with pytest.raises(CloudException, match="missing.txt") as caught:
        call()
    assert isinstance(caught.value, NoSuchFileError)
    assert caught.value.name == "missing.txt"
    assert not (tmp_path / "dest").exists()


def test_failed_get_leaves_the_destination_untouched(backend, tmp_path):
    (tmp_path / "dest").write_bytes(b"precious")
    with pytest.raises(NoSuchFileError):
        cloud.files.get("missing.txt", str(tmp_path / "dest"))
    assert (tmp_path / "dest").read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["dest", "home"]  # no temporary file left behind


class _FailingSource:
    """Gives ``good`` bytes, then fails like a broken disk or network."""

    def __init__(self, good: int) -> None:
        self._left = good

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise OSError("source broke")
        size = self._left if size < 0 else min(size, self._left)
        self._left -= size
        return b"n" * size

    def close(self) -> None:
        pass


@pytest.mark.parametrize("good", [10, 9 << 20])  # fails in the first part / after a part
def test_a_failed_upload_leaves_the_previous_file(backend, tmp_path, good):
    cloud.files.putf(b"previous", "target")
    with pytest.raises(OSError, match="source broke"):
        cloud.files.putf(_FailingSource(good), "target")
    assert cloud.files.getf("target").read() == b"previous"
    assert cloud.files.get_md5("target") == hashlib.md5(b"previous").hexdigest()
    assert cloud.files.list() == ["target"]
    if backend.kind == "local":
        assert os.listdir(os.path.join(backend.files_root, ".tmp")) == []
