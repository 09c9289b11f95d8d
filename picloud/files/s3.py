"""S3Store: one API key's files as ``<api_key>/<name>`` objects of a MinIO/S3 bucket.

Each object carries the md5 of its content as the metadata ``x-amz-meta-md5`` (an S3 ETag is
not an md5 once an upload has several parts). Small uploads send it with the object; large ones
are streamed in parts while hashing, then the object is copied onto itself with the md5 added
(MinIO changes only the metadata). Objects without it (written by other tools) are hashed on
demand.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
from collections.abc import Iterator
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import REPLACE, CopySource
from minio.error import MinioException, S3Error
from minio.helpers import check_bucket_name
from urllib3.response import BaseHTTPResponse

from picloud.config import Settings
from picloud.exceptions import CloudException, ConfigError
from picloud.files.errors import InvalidFileNameError, NoSuchFileError, StoreUnavailableError
from picloud.files.names import is_valid_name
from picloud.files.store import Opened
from picloud.files.streams import HashingReader, Readable, md5_of, read_upto

#: Multipart part size (S3's minimum), unless the size is known and needs bigger parts. About
#: (PARALLEL_UPLOADS + 3) parts are in memory at once while uploading.
PART_SIZE = 5 << 20
#: Parts uploaded at the same time.
PARALLEL_UPLOADS = 3
#: S3's limit on parts per upload.
MAX_PARTS = 10_000
#: S3's limit on an object key, in bytes of UTF-8.
MAX_KEY_BYTES = 1024
#: Metadata key of the content's md5 (sent as ``x-amz-meta-md5``).
MD5_KEY = "md5"
_MD5_HEADER = "x-amz-meta-md5"
_MISSING = {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}
_BUCKET_EXISTS = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}


def parse_endpoint(endpoint: str, secure: bool) -> tuple[str, bool]:
    """``(host[:port], secure)`` from a URL (its scheme decides) or a bare ``host:port``."""
    text = endpoint.strip()
    if "://" not in text:
        return text.rstrip("/"), secure
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
        raise ConfigError(
            f"setting s3_endpoint must be host:port or http(s)://host:port, got {endpoint!r}"
        )
    return parts.netloc, parts.scheme == "https"


def _http_client() -> urllib3.PoolManager:
    """Short connect timeout and few retries: an unreachable endpoint fails in seconds."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=3.0, read=120.0),
        maxsize=10,
        retries=urllib3.Retry(
            total=2, connect=1, read=1, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
        ),
    )


class S3Store:
    """One API key's files in a bucket, under the prefix ``<api_key>/``."""

    def __init__(self, client: Minio, bucket: str, api_key: str, endpoint: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = f"{api_key}/"
        self._endpoint = endpoint
        self._bucket_ready = False
        self.location = f"{endpoint}/{bucket}/{self._prefix}"

    @classmethod
    def from_settings(cls, settings: Settings, api_key: str) -> S3Store:
        host, secure = parse_endpoint(settings.s3_endpoint, settings.s3_secure)
        try:
            check_bucket_name(settings.s3_bucket, strict=True)
        except ValueError as exc:
            raise ConfigError(f"setting s3_bucket {settings.s3_bucket!r}: {exc}") from None
        try:
            client = Minio(
                host,
                access_key=settings.s3_access_key or None,
                secret_key=settings.s3_secret_key or None,
                secure=secure,
                http_client=_http_client(),
            )
        except ValueError as exc:
            raise ConfigError(f"setting s3_endpoint {settings.s3_endpoint!r}: {exc}") from None
        return cls(client, settings.s3_bucket, api_key, settings.s3_endpoint)

    def put(self, name: str, source: Readable, size_hint: int | None = None) -> str:
        key = self._key(name)
        with self._errors(name):
            self._ensure_bucket()
            head = read_upto(source, PART_SIZE + 1)
            if len(head) <= PART_SIZE:
                return self._put_small(key, head)
            return self._put_large(key, HashingReader(source, prefix=head), size_hint)

    def _put_small(self, key: str, data: bytes) -> str:
        md5 = hashlib.md5(data).hexdigest()
        self._client.put_object(
            self._bucket, key, io.BytesIO(data), len(data), metadata={MD5_KEY: md5}
        )
        return md5

    def _put_large(self, key: str, reader: HashingReader, size_hint: int | None) -> str:
        part_size = PART_SIZE
        if size_hint:
            part_size = max(PART_SIZE, math.ceil(size_hint / MAX_PARTS / (1 << 20)) << 20)
        written = self._client.put_object(
            self._bucket,
            key,
            reader,
            length=-1,
            part_size=part_size,
            num_parallel_uploads=PARALLEL_UPLOADS,
        )
        md5 = reader.hexdigest()
        try:  # if someone replaced the object meanwhile, their md5 is theirs to set
            self._client.copy_object(
                self._bucket,
                key,
                CopySource(self._bucket, key, match_etag=written.etag),
                metadata={MD5_KEY: md5, "Content-Type": "application/octet-stream"},
                metadata_directive=REPLACE,
            )
        except S3Error as exc:
            if exc.code != "PreconditionFailed":
                raise
        return md5

    def open(self, name: str, start: int, end: int | None) -> Opened:
        with self._errors(name):
            self._ensure_bucket()
            if end is not None and end < start:
                return self._empty(name)
            length = 0 if end is None else end - start + 1
            try:
                response = self._client.get_object(
                    self._bucket, self._key(name), offset=start, length=length
                )
            except S3Error as exc:
                if exc.code == "InvalidRange":  # start at or past the end
                    return self._empty(name)
                raise
        if (start or length) and response.status != 206:
            response.close()
            response.release_conn()
            raise CloudException(f"S3 endpoint {self._endpoint} ignored the byte range asked for")
        return Opened(_Body(response, self._endpoint), _total_size(response), _md5(response))

    def _empty(self, name: str) -> Opened:
        info = self._client.stat_object(self._bucket, self._key(name))
        return Opened(io.BytesIO(), info.size or 0, _md5(info))

    def md5(self, name: str) -> str:
        with self._errors(name):
            self._ensure_bucket()
            info = self._client.stat_object(self._bucket, self._key(name))
            known = _md5(info)
            if known:
                return known
            with contextlib.closing(self.open(name, 0, None).stream) as stream:
                return md5_of(stream)

    def exists(self, name: str) -> bool:
        try:
            with self._errors(name):
                self._ensure_bucket()
                self._client.stat_object(self._bucket, self._key(name))
        except NoSuchFileError:
            return False
        return True

    def names(self) -> list[str]:
        with self._errors():
            self._ensure_bucket()
            found = [
                item.object_name[len(self._prefix) :]
                for item in self._client.list_objects(
                    self._bucket, prefix=self._prefix, recursive=True
                )
                if item.object_name and not item.is_dir
            ]
        return sorted(name for name in found if is_valid_name(name))

    def delete(self, name: str) -> bool:
        if not self.exists(name):
            return False
        with self._errors(name):
            self._client.remove_object(self._bucket, self._key(name))
        return True

    def _key(self, name: str) -> str:
        key = self._prefix + name
        if len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise InvalidFileNameError(
                name, f"with the prefix {self._prefix!r} it exceeds S3's {MAX_KEY_BYTES} bytes"
            )
        return key

    def _ensure_bucket(self) -> None:
        """Create the bucket if it is missing (once per store)."""
        if self._bucket_ready:
            return
        if not self._client.bucket_exists(self._bucket):
            try:
                self._client.make_bucket(self._bucket)
            except S3Error as exc:
                if exc.code not in _BUCKET_EXISTS:
                    raise
        self._bucket_ready = True

    @contextlib.contextmanager
    def _errors(self, name: str | None = None) -> Iterator[None]:
        """Turn minio and urllib3 errors into CloudExceptions naming the file or the endpoint."""
        try:
            yield
        except S3Error as exc:
            if name is not None and exc.code in _MISSING:
                raise NoSuchFileError(name) from None
            raise CloudException(
                f"S3 endpoint {self._endpoint} (bucket {self._bucket!r}) refused the request "
                f"for {name or 'the file list'!r}: {exc.code}: {exc.message}"
            ) from exc
        except MinioException as exc:
            raise CloudException(f"S3 endpoint {self._endpoint}: {exc}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise StoreUnavailableError(self._endpoint, _reason(exc)) from None


class _Body:
    """The body of a GET, closing and releasing its connection on ``close``."""

    def __init__(self, response: BaseHTTPResponse, endpoint: str) -> None:
        self._response = response
        self._endpoint = endpoint

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._response.read(None if size < 0 else size, decode_content=False)
        except urllib3.exceptions.HTTPError as exc:
            raise StoreUnavailableError(self._endpoint, _reason(exc)) from None

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()


def _total_size(response: BaseHTTPResponse) -> int:
    """The whole object's size: from ``Content-Range: bytes a-b/total`` or ``Content-Length``."""
    content_range = response.headers.get("Content-Range")
    if content_range and "/" in content_range:
        return int(content_range.rsplit("/", 1)[1])
    return int(response.headers.get("Content-Length") or 0)


def _md5(found: object) -> str | None:
    headers = getattr(found, "headers", None) or getattr(found, "metadata", None) or {}
    return headers.get(_MD5_HEADER) or None


def _reason(exc: urllib3.exceptions.HTTPError) -> str:
    return str(getattr(exc, "reason", None) or exc)
