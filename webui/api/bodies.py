"""Reading what API requests send: the body (size-limited; JSON, form fields or multipart) and
jids. Every malformed input becomes an ApiError (400, 413, 415) that names the problem."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from django.http import HttpRequest

from webui.api.responses import ApiError

#: Largest request body accepted, checked on Content-Length before anything is read. Form and
#: JSON bodies are also held to Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default).
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Most form fields one body may hold (a map of 500 jobs with several arguments fits).
MAX_FORM_FIELDS = 10_000
#: Most jids one request may name.
MAX_JIDS = 1000
_LARGEST_JID = 2**63 - 1

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MULTIPART = "multipart/form-data"


def content_type(request: HttpRequest) -> str:
    return (request.content_type or "").split(";")[0].strip().lower()


def check_size(request: HttpRequest) -> int:
    """The body's declared length; 413 when it is over MAX_BODY_BYTES."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(declared)
    except ValueError:
        raise ApiError(400, f"bad Content-Length header {declared!r}") from None
    if length > MAX_BODY_BYTES:
        raise ApiError(
            413, f"request body of {length} bytes is over the limit of {MAX_BODY_BYTES} bytes"
        )
    return length


def decode_json(text: str | bytes, what: str) -> Any:
    """``json.loads`` with every failure (bad syntax, not UTF-8, absurd nesting) as a 400."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text)
    except UnicodeDecodeError:
        raise ApiError(400, f"{what} is not UTF-8") from None
    except RecursionError:
        raise ApiError(400, f"{what} is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and ints too long to convert
        raise ApiError(400, f"{what} is not valid JSON: {exc}") from None


def form_fields(body: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a form-urlencoded body, in order."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise ApiError(
            400, "a form body must be ASCII (percent-encode other characters as UTF-8)"
        ) from None
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise ApiError(400, "a form field is not UTF-8 once percent-decoded") from None
    except ValueError:
        raise ApiError(400, f"too many form fields (at most {MAX_FORM_FIELDS})") from None


def body_object(request: HttpRequest) -> dict[str, Any]:
    """A JSON body that must be an object; {} for an empty body."""
    if not request.body:
        return {}
    found = decode_json(request.body, "the request body")
    if not isinstance(found, dict):
        raise ApiError(400, f"the JSON body must be an object, got {type(found).__name__}")
    return found


def fields(request: HttpRequest) -> dict[str, list[Any]]:
    """The request's named values, query string first, then the body's (form fields as
    strings, JSON members as they are, multipart fields as strings and files as bytes)."""
    out: dict[str, list[Any]] = {}
    for name, values in request.GET.lists():
        out.setdefault(name, []).extend(values)
    for name, value in body_fields(request):
        out.setdefault(name, []).append(value)
    return out


def body_fields(request: HttpRequest) -> list[tuple[str, Any]]:
    """The body's (name, value) pairs; 415 for a body that is neither form, JSON nor
    multipart."""
    check_size(request)
    kind = content_type(request)
    if kind == MULTIPART:
        pairs: list[tuple[str, Any]] = []
        try:
            pairs += [(n, v) for n, values in request.POST.lists() for v in values]
        except UnicodeDecodeError:
            raise ApiError(400, "a multipart field is not UTF-8") from None
        for name, uploads in request.FILES.lists():
            pairs += [(name, upload.read()) for upload in uploads]
        return pairs
    if not request.body:
        return []
    if kind == JSON:
        return list(body_object(request).items())
    if kind in (FORM, ""):
        return list(form_fields(request.body))
    raise ApiError(
        415,
        f"unsupported Content-Type {kind!r}: send form fields ({FORM}), a JSON object "
        f"({JSON}) or {MULTIPART}",
    )


def jid_list(values: list[Any], name: str = "jids") -> list[int]:
    """Jids from ``values``: ints, or strings of comma-separated ints (``"12,13"``)."""
    out: list[int] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str):
                out += [_jid(part, name) for part in item.split(",") if part.strip()]
            else:
                out.append(_jid(item, name))
    if not out:
        raise ApiError(400, f"{name} is required: one or more job ids, e.g. {name}=12")
    if len(out) > MAX_JIDS:
        raise ApiError(400, f"at most {MAX_JIDS} jids per request, got {len(out)}")
    return out


def _jid(value: Any, name: str) -> int:
    text = value.strip() if isinstance(value, str) else None
    if text and text.isascii() and text.isdigit() and len(text) <= 19:
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _LARGEST_JID:
        raise ApiError(400, f"{name} must be positive integers (comma-separated), got {value!r}")
    return value
