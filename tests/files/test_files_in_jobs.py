"""Jobs use the same files as the client that submitted them, on both stores."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

import cloud
import cloud.files
import picloud.api
import picloud.files
from picloud.exceptions import CloudException


def read_file(name: str) -> bytes:
    """Job: the content of the stored file ``name``."""
    with picloud.files.getf(name) as cloud_file:
        return cloud_file.read()


def write_file(name: str, content: bytes) -> str:
    """Job: store ``content`` as ``name``; return its md5 as the store reports it."""
    picloud.files.putf(content, name)
    return picloud.files.get_md5(name)


@pytest.fixture
def fresh_workers(backend) -> Iterator[None]:
    """Workers forked after the test's settings are in place, and closed after it."""
    picloud.api.close()
    yield
    picloud.api.close()


def test_a_job_reads_a_file_the_client_put(fresh_workers):
    cloud.files.putf(b"from the client", "data/in.txt")
    jid = cloud.call(read_file, "data/in.txt")
    assert cloud.result(jid) == b"from the client"


def test_the_client_reads_a_file_a_job_put(fresh_workers):
    jid = cloud.call(write_file, "out.txt", b"from a job")
    assert cloud.result(jid) == hashlib.md5(b"from a job").hexdigest()
    assert cloud.files.getf("out.txt").read() == b"from a job"


def test_a_job_reading_a_missing_file_fails_naming_it(fresh_workers):
    jid = cloud.call(read_file, "nowhere.txt")
    with pytest.raises(CloudException, match="nowhere.txt"):
        cloud.result(jid)
