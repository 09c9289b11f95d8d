"""``/api/files/``: the request's api key's files in the fleet's store (picloud.files), for
clients that reach the fleet through this server (picloud.files.served).

``GET`` lists the names; with ``?name=``, streams the file (``start``/``end``: a range, both
inclusive) with its whole size in ``X-Picloud-Size``, or answers ``what=md5`` / ``what=exists``;
``PUT ?name=`` stores the body; ``DELETE ?name=`` removes it. A missing file is 404."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from picloud.files.errors import InvalidFileNameError, NoSuchFileError
from picloud.files.names import check_name
from picloud.files.store import ByteStream, Store, store_of
from picloud.files.streams import CHUNK_SIZE
from webui.api.auth import api_view
from webui.api.responses import ApiError, error, ok

OCTETS = "application/octet-stream"


@api_view(methods=("GET", "PUT", "DELETE"))
def files(request: HttpRequest) -> HttpResponse:
    store = store_of(request.api_key.key)  # type: ignore[attr-defined]
    raw_name = request.GET.get("name")
    if raw_name is None:
        if request.method != "GET":
            raise ApiError(400, "name a file: ?name=")
        return ok({"names": store.names()})
    try:
        name = check_name(raw_name)
        if request.method == "PUT":
            return ok({"md5": store.put(name, request)})
        if request.method == "DELETE":
            return ok({"deleted": store.delete(name)})
        what = request.GET.get("what")
        if what == "md5":
            return ok({"md5": store.md5(name)})
        if what == "exists":
            return ok({"exists": store.exists(name)})
        if what is not None:
            raise ApiError(400, f"what={what!r}: choose md5 or exists")
        return _download(store, name, request)
    except InvalidFileNameError as exc:
        raise ApiError(400, str(exc.parameter)) from None
    except NoSuchFileError as exc:
        return error(404, str(exc.parameter))


def _download(store: Store, name: str, request: HttpRequest) -> HttpResponse:
    try:
        start = int(request.GET.get("start") or 0)
        end = int(request.GET["end"]) if request.GET.get("end") else None
    except ValueError:
        raise ApiError(400, "start and end must be byte offsets (ints)") from None
    if start < 0 or (end is not None and end < start - 1):
        raise ApiError(400, f"a bad byte range: start={start}, end={end}")
    opened = store.open(name, start, end)
    response = StreamingHttpResponse(_stream(opened.stream), content_type=OCTETS)
    response["X-Picloud-Size"] = str(opened.size)
    if opened.md5:
        response["X-Picloud-Md5"] = opened.md5
    return response


def _stream(stream: ByteStream) -> Iterator[bytes]:
    try:
        while data := stream.read(CHUNK_SIZE):
            yield data
    finally:
        stream.close()
