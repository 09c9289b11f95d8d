"""Turning a job's pickled result into an HTTP body without trusting it: the server opens
results with an unpickler that builds plain data only (no classes, so no code runs), then
JSON-encodes them (``json``) or returns the bytes as they are (``raw``)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

from picloud import serialization
from webui.api.responses import ApiError

#: 422: the job is done but its result cannot take the requested encoding.
UNENCODABLE = 422


def plain_value(jid: int, blob: bytes, encoding: str) -> Any:
    """The result as plain data; 422 naming the type when it is anything else."""
    try:
        return serialization.plain_loads(blob)
    except serialization.NotPlainData as refused:
        raise ApiError(
            UNENCODABLE,
            f"job {jid}'s result holds a {refused.name}, which the {encoding!r} output "
            f"encoding cannot carry: {_advice(encoding)}",
        ) from None
    except Exception as exc:  # truncated, out-of-band buffers, absurd nesting...
        raise ApiError(
            UNENCODABLE, f"job {jid}'s result cannot be read as plain data: {exc}"
        ) from None


def _advice(encoding: str) -> str:
    if encoding == "raw":
        return "a function published with out_encoding='raw' must return str or bytes"
    return (
        "return JSON-able data (dicts, lists, str, numbers, bools, None), or publish with "
        "out_encoding='raw' and return str or bytes"
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise TypeError("bytes that are not UTF-8 have no JSON form") from None
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def json_body(jid: int, blob: bytes) -> HttpResponse:
    """``{"result": <value>}``, the JSON-encoded result (bytes as UTF-8 text)."""
    value = plain_value(jid, blob, "json")
    try:
        encoded = json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ApiError(
            UNENCODABLE,
            f"job {jid}'s result cannot be encoded as JSON ({exc}): {_advice('json')}",
        ) from None
    except RecursionError:
        raise ApiError(UNENCODABLE, f"job {jid}'s result is nested too deeply for JSON") from None
    return HttpResponse(f'{{"result": {encoded}}}', content_type="application/json")


def raw_body(jid: int, blob: bytes) -> HttpResponse:
    """The result's bytes as they are (a str as UTF-8 text)."""
    value = plain_value(jid, blob, "raw")
    if isinstance(value, str):
        return HttpResponse(value.encode("utf-8"), content_type="text/plain; charset=utf-8")
    if isinstance(value, (bytes, bytearray)):
        return HttpResponse(bytes(value), content_type="application/octet-stream")
    raise ApiError(
        UNENCODABLE,
        f"job {jid}'s result is a {type(value).__name__}: {_advice('raw')}",
    )
