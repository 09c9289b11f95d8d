"""``POST /api/engine/<method>``: the whole job API for clients with an api key and no broker
(picloud.engines.http). The body is a frame (picloud.sandbox.channel) holding the call's
arguments; the answer is a frame holding its value or its error. Each call runs on the
server's ClusterEngine of the request's key (webui.api.engines), which signs with the secret
the request presented and reads only that key's jobs; nothing pickled is opened here.

A submission names a token: submit.lua keeps the jids it got under it, in the same step, for
keys.SUBMITTED_SECONDS, so a client that lost the answer and tries again gets the same jobs,
not a second copy."""

from __future__ import annotations

import re
import threading
from typing import Any

from django.http import HttpRequest, HttpResponse

from picloud import keys
from picloud.engines import relay
from picloud.engines.cluster.engine import JID_BLOCK, ClusterEngine, give_back, take_jids
from picloud.engines.http import FRAME_TYPE, LONG_POLL
from picloud.exceptions import CloudException
from picloud.sandbox.channel import (
    MAX_FRAME,
    BadFrame,
    decode_frame,
    encode_frame,
    pack,
    unpack,
)
from webui.api.auth import api_view, broker_trouble
from webui.api.engines import engine_changing, engine_for
from webui.api.responses import ApiError

#: Calls that change state: one at a time per key's engine.
CHANGING = ("submit", "kill", "delete")
#: Calls served (``wait_results``: a wait whose answer brings the results when all are done
#: and they are small: call+result costs two requests, not three).
METHODS = (
    *CHANGING,
    "statuses",
    "wait",
    "wait_results",
    "results",
    "done_results",
    "info",
    "connection_info",
)
#: Bytes of results a wait's answer brings at most.
PREFETCH_BYTES = 1 << 20
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
#: Clients whose jid blocks are kept (the least recently submitting beyond are dropped).
MAX_CLIENTS = 10_000
_blocks: dict[tuple[str, str], range] = {}
_blocks_lock = threading.Lock()


@api_view(methods=("POST",))
def engine_call(request: HttpRequest, method: str) -> HttpResponse:
    """One Engine call as the request's api key."""
    if method not in METHODS:
        raise ApiError(404, f"no engine call {method!r}; choose from {', '.join(METHODS)}")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, "a bad Content-Length header") from None
    if length > MAX_FRAME:
        raise ApiError(413, f"a request body of {length:,} bytes (at most {MAX_FRAME:,})")
    try:  # read here, not as request.body: a map of many jobs is one large request
        header, parts = decode_frame(request.read())
        args = unpack(header.get("args"), parts)
    except BadFrame as exc:
        raise ApiError(400, f"the body is not a picloud frame: {exc}") from None
    if not isinstance(args, dict):
        raise ApiError(400, "the frame's args must be an object")
    out: list[bytes] = []
    try:
        reply = {"value": pack(_run(request, method, args), out)}
    except CloudException as exc:
        if broker_trouble(exc):
            raise  # a 503 the client tries again
        out = []
        reply = {"error": relay.error_of(exc)}
    return HttpResponse(encode_frame(reply, out), content_type=FRAME_TYPE)


def _run(request: HttpRequest, method: str, args: dict[str, Any]) -> Any:
    key = request.api_key.key  # type: ignore[attr-defined]
    if method == "connection_info":  # where the broker is stays the server's business
        return {"opened": True, "connection_type": "cluster", "api_key": key}
    if method == "submit":
        return _submit(request, key, args)
    if method in CHANGING:
        with engine_changing(request) as engine:
            return relay.serve(engine, method, args)
    engine = engine_for(request)
    if method == "wait_results":
        pending = relay.serve(engine, "wait", args, longest_wait=LONG_POLL)
        results = None if pending else relay.serve(engine, "done_results", args)
        if results is not None and sum(map(len, results)) > PREFETCH_BYTES:
            results = None
        return {"pending": pending, "results": results}
    return relay.serve(engine, method, args, longest_wait=LONG_POLL)


def _submit(request: HttpRequest, key: str, args: dict[str, Any]) -> range:
    token = args.pop("token", None)
    if token is not None and not (isinstance(token, str) and _TOKEN.match(token)):
        raise ApiError(400, "a submission's token must be 32 hex digits")
    remembered = keys.submitted(key, token) if token is not None else None
    # a first try cannot have been served before (an older client says no attempt: look)
    first_try = request.META.get("HTTP_X_PICLOUD_ATTEMPT") == "1"
    with engine_changing(request) as engine:
        if remembered is not None and not first_try:
            found = engine.redis.get(remembered)
            if found is not None:
                start, stop = (int(v) for v in found.split(b","))
                return range(start, stop)
        client = _client(request)
        reserved: list[int] = []  # (first, n) once reserved

        def reserve(n: int) -> int:
            reserved[:] = [_reserve(engine, key, client, n), n]
            return reserved[0]

        try:
            jids = relay.serve(
                engine, "submit", args, shipping=True, reserve=reserve, remember=remembered
            )
        except CloudException:
            if reserved:  # nothing was queued: the jids are the client's next ones still
                _give_back(key, client, *reserved)
            raise
    return jids


def _client(request: HttpRequest) -> str:
    """The id the HTTP client names itself by (``X-Picloud-Client``), else ''."""
    found = request.META.get("HTTP_X_PICLOUD_CLIENT", "")
    if found and not _TOKEN.match(found):
        raise ApiError(400, "X-Picloud-Client must be 32 hex digits")
    return found


def _reserve(engine: ClusterEngine, key: str, client: str, n: int) -> int:
    """The first of ``n`` fresh jids from the client's own block (as a client on the broker
    reserves them: one after another for its calls, whatever other clients of the key do)."""
    with _blocks_lock:
        block = _blocks.pop((key, client), range(0))
        start, _blocks[(key, client)] = take_jids(engine.redis, block, n, JID_BLOCK)
        while len(_blocks) > MAX_CLIENTS:
            _blocks.pop(next(iter(_blocks)))
    return start


def _give_back(key: str, client: str, first: int, n: int) -> None:
    """Return jids ``first`` .. ``first+n-1`` to the client's block if none was taken since."""
    with _blocks_lock:
        block = _blocks.get((key, client))
        if block is not None:
            _blocks[(key, client)] = give_back(block, first, n)
