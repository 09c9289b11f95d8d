"""CloudFile (read, readline, readlines, iteration, tell, close, filesize, end, md5) and byte
ranges, on both stores."""

from __future__ import annotations

import hashlib

import pytest

import cloud.files
from picloud.files import CloudFile

TEXT = b"line one\nline two\nthird line\nlast, no newline"


@pytest.fixture
def stored(backend) -> str:
    cloud.files.putf(TEXT, "lines.txt")
    return "lines.txt"


def test_getf_returns_a_cloudfile(stored):
    with cloud.files.getf(stored) as cloud_file:
        assert isinstance(cloud_file, CloudFile)
        assert cloud_file.read() == TEXT


def test_read_in_pieces_and_tell(stored):
    cloud_file = cloud.files.getf(stored)
    assert cloud_file.tell() == 0
    assert cloud_file.read(4) == b"line"
    assert cloud_file.tell() == 4
    assert cloud_file.read(0) == b""
    assert cloud_file.read(-1) == TEXT[4:]
    assert cloud_file.tell() == len(TEXT)
    assert cloud_file.read() == b""
    cloud_file.close()


def test_readline_keeps_newlines_and_honours_size(stored):
    with cloud.files.getf(stored) as cloud_file:
        assert cloud_file.readline() == b"line one\n"
        assert cloud_file.readline(4) == b"line"
        assert cloud_file.readline() == b" two\n"
        assert cloud_file.tell() == len(b"line one\nline two\n")
        cloud_file.readline()
        assert cloud_file.readline() == b"last, no newline"
        assert cloud_file.readline() == b""


def test_readlines(stored):
    with cloud.files.getf(stored) as cloud_file:
        assert cloud_file.readlines() == TEXT.splitlines(keepends=True)
        assert cloud_file.tell() == len(TEXT)
    with cloud.files.getf(stored) as cloud_file:
        first = cloud_file.readlines(5)  # stops once about 5 bytes are read
        assert first == [b"line one\n"]
        assert cloud_file.tell() == 9


def test_iteration_yields_lines_and_next_works(stored):
    with cloud.files.getf(stored) as cloud_file:
        assert cloud_file.next() == b"line one\n"
        assert list(cloud_file) == TEXT.splitlines(keepends=True)[1:]
        assert cloud_file.tell() == len(TEXT)
        with pytest.raises(StopIteration):
            next(cloud_file)


def test_close_blocks_further_reads(stored):
    cloud_file = cloud.files.getf(stored)
    cloud_file.read(3)
    cloud_file.close()
    assert cloud_file.closed
    with pytest.raises(ValueError):
        cloud_file.read()


def test_filesize_end_and_md5(stored):
    with cloud.files.getf(stored) as cloud_file:
        assert cloud_file.filesize() == len(TEXT)
        assert cloud_file.end() == len(TEXT)
        assert cloud_file.md5 == hashlib.md5(TEXT).hexdigest()
    with cloud.files.getf(stored, 5, 9) as cloud_file:
        assert cloud_file.filesize() == len(TEXT)
        assert cloud_file.end() == 9
        assert cloud_file.md5 == hashlib.md5(TEXT).hexdigest()  # of the whole file


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 9, TEXT[0:10]),  # the end byte is included: 10 bytes
        (0, 0, TEXT[0:1]),
        (5, 7, TEXT[5:8]),
        (9, None, TEXT[9:]),  # start only
        (0, None, TEXT),
        (10, 10_000, TEXT[10:]),  # end past the end: to the end
        (len(TEXT) - 1, len(TEXT) - 1, TEXT[-1:]),
        (len(TEXT), None, b""),  # start at the end
        (len(TEXT) + 50, len(TEXT) + 60, b""),  # start past the end
        (7, 3, b""),  # end before start
    ],
)
def test_byte_ranges(stored, start, end, expected):
    with cloud.files.getf(stored, start, end) as cloud_file:
        assert cloud_file.tell() == start
        assert cloud_file.read() == expected
        assert cloud_file.tell() == start + len(expected)
        assert cloud_file.filesize() == len(TEXT)


def test_lines_of_a_range(stored):
    with cloud.files.getf(stored, 5, 20) as cloud_file:
        assert list(cloud_file) == [b"one\n", b"line two\n", b"thi"]
        assert cloud_file.tell() == 21


def test_range_of_an_empty_file(backend):
    cloud.files.putf(b"", "empty")
    with cloud.files.getf("empty", 0, 9) as cloud_file:
        assert cloud_file.read() == b""
        assert cloud_file.filesize() == 0
        assert cloud_file.md5 == hashlib.md5(b"").hexdigest()


@pytest.mark.parametrize(
    ("start", "end"), [("1", None), (0, "9"), (1.0, None), (0, 2.5), (True, None)]
)
def test_non_int_bounds_raise_type_error(stored, start, end):
    with pytest.raises(TypeError, match="_byte"):
        cloud.files.getf(stored, start, end)
    with pytest.raises(TypeError, match="_byte"):
        cloud.files.get(stored, "dest", start, end)


@pytest.mark.parametrize(("start", "end"), [(-1, None), (0, -5)])
def test_negative_bounds_raise_value_error(stored, start, end):
    with pytest.raises(ValueError, match="negative"):
        cloud.files.getf(stored, start, end)
