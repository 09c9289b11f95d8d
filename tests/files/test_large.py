"""A large file goes up and down in chunks: the process's memory stays bounded."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest

import cloud.files

SIZE = 200 << 20
#: The most the resident memory may grow while transferring (the requirement is < 100 MB).
LIMIT = 80 << 20


@contextmanager
def peak_rss_growth() -> Iterator[list[int]]:
    """Samples the resident set size in a thread; yields a list that ends up holding the peak
    growth over the value at entry, in bytes."""
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    growth = [0]
    try:
        yield growth
    finally:
        done.set()
        sampler.join()
        growth[0] = max(peak[0], process.memory_info().rss) - baseline


def _write_big_file(path: str) -> str:
    """SIZE bytes of varied data written 1 MiB at a time; returns their md5."""
    digest = hashlib.md5()
    block = os.urandom(1 << 20)
    with open(path, "wb") as file:
        for number in range(SIZE >> 20):
            chunk = number.to_bytes(8, "big") + block[8:]
            digest.update(chunk)
            file.write(chunk)
    return digest.hexdigest()


def _md5_of_file(path: str) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.slow
def test_a_large_file_streams_up_and_down_in_bounded_memory(backend, tmp_path, capsys):
    source, copy = str(tmp_path / "big.bin"), str(tmp_path / "copy.bin")
    expected = _write_big_file(source)

    with peak_rss_growth() as up:
        cloud.files.put(source, "big.bin")
    assert cloud.files.get_md5("big.bin") == expected
    with peak_rss_growth() as down:
        cloud.files.get("big.bin", copy)

    assert os.path.getsize(copy) == SIZE
    assert _md5_of_file(copy) == expected
    with capsys.disabled():
        print(
            f"\n[{backend.kind}] {SIZE >> 20} MiB: peak RSS growth "
            f"up {up[0] / 2**20:.1f} MiB, down {down[0] / 2**20:.1f} MiB"
        )
    assert up[0] < LIMIT
    assert down[0] < LIMIT
