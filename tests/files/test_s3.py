"""What only the S3 store does: endpoint forms, the bucket, object layout and metadata, and a
clear error when the endpoint cannot be reached."""

from __future__ import annotations

import hashlib
import io
import os
import time
from urllib.parse import urlsplit

import pytest
from minio import Minio

import cloud.files
import picloud.config
from picloud.exceptions import CloudException, ConfigError
from picloud.files import InvalidFileNameError, StoreUnavailableError
from tests.services import free_port

pytestmark = pytest.mark.parametrize("backend", ["s3"], indirect=True)


@pytest.fixture
def client(backend) -> Minio:
    """A minio client on the test's S3 server, to look behind picloud's back."""
    netloc = urlsplit(os.environ["PICLOUD_S3_ENDPOINT"]).netloc
    return Minio(netloc, access_key="testing", secret_key="testing", secure=False)


def test_the_bucket_is_created_when_missing(backend, client):
    assert not client.bucket_exists(backend.bucket)
    cloud.files.putf(b"x", "x")
    assert client.bucket_exists(backend.bucket)


def test_objects_are_key_prefixed_and_carry_their_md5(backend, client):
    cloud.files.putf(b"content", "data/a.txt")
    objects = [o.object_name for o in client.list_objects(backend.bucket, recursive=True)]
    assert objects == ["1001/data/a.txt"]
    stat = client.stat_object(backend.bucket, "1001/data/a.txt")
    assert stat.metadata["x-amz-meta-md5"] == hashlib.md5(b"content").hexdigest()
    assert not os.path.exists(backend.files_root)  # nothing went to the local folder


def test_a_multipart_upload_gets_its_md5(backend, client):
    content = os.urandom(17 << 20)
    cloud.files.putf(io.BytesIO(content), "big")
    stat = client.stat_object(backend.bucket, "1001/big")
    assert stat.content_type == "application/octet-stream"
    assert stat.metadata["x-amz-meta-md5"] == hashlib.md5(content).hexdigest()
    assert cloud.files.get_md5("big") == hashlib.md5(content).hexdigest()


def test_md5_of_an_object_written_by_another_tool(backend, client):
    content = os.urandom(11 << 20)
    cloud.files.list()  # creates the bucket
    client.put_object(backend.bucket, "1001/foreign", io.BytesIO(content), -1, part_size=5 << 20)
    assert "x-amz-meta-md5" not in client.stat_object(backend.bucket, "1001/foreign").metadata
    assert cloud.files.get_md5("foreign") == hashlib.md5(content).hexdigest()
    with cloud.files.getf("foreign") as cloud_file:
        assert cloud_file.md5 == hashlib.md5(content).hexdigest()


def test_list_skips_objects_whose_names_picloud_would_refuse(backend, client):
    cloud.files.putf(b"ok", "ok")
    client.put_object(backend.bucket, "1001/bad//name", io.BytesIO(b"x"), 1)
    client.put_object(backend.bucket, "10010/other-key", io.BytesIO(b"x"), 1)
    assert cloud.files.list() == ["ok"]


def test_an_endpoint_given_as_host_port(backend, monkeypatch):
    netloc = urlsplit(os.environ["PICLOUD_S3_ENDPOINT"]).netloc
    monkeypatch.setenv("PICLOUD_S3_ENDPOINT", netloc)
    monkeypatch.setenv("PICLOUD_S3_SECURE", "false")
    picloud.config.reload()
    cloud.files.putf(b"via host:port", "hp.txt")
    assert cloud.files.getf("hp.txt").read() == b"via host:port"


@pytest.mark.parametrize("endpoint", ["ftp://127.0.0.1:9000", "http://127.0.0.1:9000/path"])
def test_an_endpoint_that_is_not_host_port_or_http_url(backend, monkeypatch, endpoint):
    monkeypatch.setenv("PICLOUD_S3_ENDPOINT", endpoint)
    picloud.config.reload()
    with pytest.raises(ConfigError, match="s3_endpoint"):
        cloud.files.list()


def test_a_bad_bucket_name_is_a_config_error(backend, monkeypatch):
    monkeypatch.setenv("PICLOUD_S3_BUCKET", "Not_A_Bucket")
    picloud.config.reload()
    with pytest.raises(ConfigError, match="s3_bucket"):
        cloud.files.list()


def test_a_name_too_long_with_the_key_prefix(backend):
    name = "/".join(["y" * 200] * 5) + "/" + "z" * 19  # 1024 bytes: fine locally
    with pytest.raises(InvalidFileNameError, match="1024"):
        cloud.files.putf(b"x", name)


@pytest.mark.parametrize(
    "call",
    [
        cloud.files.list,
        lambda: cloud.files.putf(b"x", "x"),
        lambda: cloud.files.getf("x"),
        lambda: cloud.files.get_md5("x"),
        lambda: cloud.files.exists("x"),
        lambda: cloud.files.delete("x"),
    ],
    ids=["list", "putf", "getf", "get_md5", "exists", "delete"],
)
def test_an_unreachable_endpoint_fails_fast_naming_it(backend, monkeypatch, call):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("PICLOUD_S3_ENDPOINT", endpoint)
    picloud.config.reload()
    started = time.monotonic()
    with pytest.raises(CloudException, match=endpoint) as caught:
        call()
    assert time.monotonic() - started < 10
    assert isinstance(caught.value, StoreUnavailableError)
    assert caught.value.endpoint == endpoint
