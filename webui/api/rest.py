"""Published functions over HTTP: PiCloud's invoke paths (``POST /r/<key>/<label>/`` and
``.../map/``, ``GET /r/<key>/<label>/`` for the info) and the management calls cloud.rest
makes (``/api/rest/``: list, publish; ``/api/rest/<label>/``: info, remove).

An invocation's arguments are form fields, each value JSON-encoded (``-d x=5``; repeated
fields are a map's items), a JSON object, or multipart (files arrive as bytes). The server
never unpickles the stored function: it pickles the decoded arguments and submits a job the
caller's secret signs. Any key of the publishing key's web UI user may invoke; for any other
key the function does not exist (404)."""

from __future__ import annotations

import inspect
import pickle
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse

from picloud import serialization
from picloud.engines.base import Submission
from picloud.exceptions import CloudException
from picloud.options import parse_options
from webui.api.auth import api_view
from webui.api.bodies import JSON, MULTIPART, body_fields, body_object, check_size, decode_json
from webui.api.bodies import content_type as content_type_of
from webui.api.engines import engine_changing
from webui.api.responses import ApiError, ok
from webui.apikeys.models import ApiKey
from webui.published.models import OUT_ENCODINGS, Invocation, PublishedFunction

#: PiCloud's label rule (cloud.rest.publish raises TypeError for anything else).
LABEL = re.compile(r"^[A-Z0-9a-z_+\-.]+$")
#: Most jobs one map invocation makes (PiCloud's limit).
MAX_MAP_JOBS = 500
#: Reserved keywords publish ignores (compat §5) and those it refuses.
IGNORED_OPTIONS = ("_label", "_depends_on", "_depends_on_errors")
REFUSED_OPTIONS = ("_callback", "_callback_on_error")
_KINDS = {kind.name: kind for kind in type(inspect.Parameter.KEYWORD_ONLY)}
_FORM_HINT = 'each form field holds JSON: x=5, s="text"'
_TEXT_LIMITS = {"func_name": 255, "signature": 10_000, "description": 100_000}


# --- the published function ---------------------------------------------------------------------
def _check_label(label: Any) -> str:
    if not isinstance(label, str) or not LABEL.match(label) or label in (".", ".."):
        raise ApiError(
            400,
            f"label {label!r} must consist of letters, digits and _ + - . (and not be . or ..)",
        )
    return label


def describe(function: PublishedFunction, request: HttpRequest) -> dict[str, Any]:
    """PiCloud's info dict (label, output_encoding, uri, signature, description, version),
    plus the function's name and when it was first and last published."""
    return {
        "label": function.label,
        "output_encoding": function.out_encoding,
        "uri": request.build_absolute_uri(f"/r/{function.owner.key}/{function.label}/"),
        "signature": function.signature,
        "description": function.description,
        "version": function.version,
        "function": function.func_name,
        "created": function.created.strftime("%Y-%m-%d %H:%M:%S"),
        "updated": function.updated.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _may_invoke(caller: ApiKey, owner: ApiKey) -> bool:
    return caller.pk == owner.pk or (owner.user_id is not None and owner.user_id == caller.user_id)


def _published(request: HttpRequest, user: str, label: str) -> PublishedFunction:
    """The function ``label`` of key ``user``, if the request's key may invoke it; else 404."""
    found = (
        PublishedFunction.objects.select_related("owner").filter(owner__key=user, label=label)
    ).first()
    if found is None or not _may_invoke(request.api_key, found.owner):  # type: ignore[attr-defined]
        raise ApiError(404, f"no published function {label!r} of user {user!r}")
    return found


def signature_of(parameters: list[list[Any]]) -> inspect.Signature:
    """An ``inspect.Signature`` rebuilt from ``[name, kind, has default]`` triples."""
    return inspect.Signature(
        [
            inspect.Parameter(name, _KINDS[kind], **({"default": None} if has_default else {}))
            for name, kind, has_default in parameters
        ]
    )


# --- invoking ------------------------------------------------------------------------------------
@api_view(methods=("GET", "POST"))
def function_view(request: HttpRequest, user: str, label: str) -> HttpResponse:
    """GET: the function's info dict. POST: run it once on the arguments; ``{"jid": 12}``."""
    function = _published(request, user, label)
    if request.method == "GET":
        return ok(describe(function, request))
    jids = _invoke(request, function, mapping=False)
    return ok({"jid": jids.start})


@api_view(methods=("POST",))
def function_map(request: HttpRequest, user: str, label: str) -> HttpResponse:
    """One job per item (an argument with one item goes to every job; the others must have
    equally many, at most 500). ``{"jids": "12-15"}``: 12, 13 and 14, as Python's
    ``range(12, 15)`` (PiCloud's client made ``xrange(a, b)`` of it)."""
    jids = _invoke(request, _published(request, user, label), mapping=True)
    return ok({"jids": f"{jids.start}-{jids.stop}"})


def _invoke(request: HttpRequest, function: PublishedFunction, mapping: bool) -> range:
    rows = _rows(_arguments(request, mapping), mapping)
    if function.parameters is not None:
        try:
            signature_of(function.parameters).bind(**rows[0])
        except TypeError as exc:
            raise ApiError(400, f"{function.label}{function.signature}: {exc}") from None
    options = parse_options({**function.options, "_label": function.job_label})
    submission = Submission(
        func_blob=bytes(function.func_pickle),
        func_name=function.func_name,
        args_blobs=[_pickled(row) for row in rows],
        options=options,
    )
    with engine_changing(request) as engine:
        jids = engine.submit(submission)
    Invocation.objects.create(
        function=function,
        caller=request.api_key,  # type: ignore[attr-defined]
        label=function.label,
        out_encoding=function.out_encoding,
        first_jid=jids.start,
        count=len(jids),
    )
    return jids


def _pickled(row: dict[str, Any]) -> bytes:
    """One job's ``(args, kwargs)``: plain data (decoded JSON, bytes), so plain pickle."""
    try:
        return pickle.dumps(((), row), serialization.PROTOCOL)
    except (RecursionError, pickle.PicklingError):
        raise ApiError(400, "the arguments are nested too deeply") from None


def _arguments(request: HttpRequest, mapping: bool) -> dict[str, list[Any]]:
    """Each argument's items: JSON members as they are (a map's must be lists), form fields
    JSON-decoded (a repeated field gives several items), uploaded files as bytes."""
    check_size(request)
    items: dict[str, list[Any]] = {}
    if content_type_of(request) == JSON:
        for name, value in body_object(request).items():
            if mapping and not isinstance(value, list):
                raise ApiError(
                    400,
                    f"map argument {name!r} must be a JSON list of items (one item is given "
                    f"to every job), got {type(value).__name__}",
                )
            items[name] = value if mapping else [value]
    else:
        for name, value in body_fields(request):
            if isinstance(value, str):
                value = decode_json(value, f"argument {name!r} ({_FORM_HINT})")
            items.setdefault(name, []).append(value)
    for name, values in items.items():
        if name.startswith("_"):
            raise ApiError(400, f"argument {name!r}: names starting with '_' are reserved")
        if not values:
            raise ApiError(400, f"map argument {name!r} has no items")
    return items


def _rows(items: dict[str, list[Any]], mapping: bool) -> list[dict[str, Any]]:
    """The keyword arguments of each job."""
    if not mapping:
        for name, values in items.items():
            if len(values) != 1:
                raise ApiError(
                    400,
                    f"argument {name!r} was sent {len(values)} times: one value per argument "
                    "(POST to .../map/ to run one job per value)",
                )
        return [{name: values[0] for name, values in items.items()}]
    lengths = {name: len(values) for name, values in items.items() if len(values) > 1}
    if len(set(lengths.values())) > 1:
        counts = ", ".join(f"{name}: {n}" for name, n in lengths.items())
        raise ApiError(
            400,
            f"map arguments have different numbers of items ({counts}); each must have one "
            "item (given to every job) or as many as the others",
        )
    n = max(lengths.values(), default=1)
    if n > MAX_MAP_JOBS:
        raise ApiError(400, f"a map invocation makes at most {MAX_MAP_JOBS} jobs, got {n} items")
    return [
        {name: values[0] if len(values) == 1 else values[i] for name, values in items.items()}
        for i in range(n)
    ]


# --- managing (cloud.rest) -----------------------------------------------------------------------
@api_view(methods=("GET", "POST"))
def functions(request: HttpRequest) -> HttpResponse:
    """GET: ``{"labels": [...]}`` of the key's published functions. POST (multipart: the
    pickled function as the file ``func``, and fields label, out_encoding, func_name,
    signature, description, parameters (JSON), options (JSON)): publish, or re-publish with
    the next version; ``{"label", "uri", "version"}``."""
    if request.method == "GET":
        owned = PublishedFunction.objects.filter(owner=request.api_key)  # type: ignore[attr-defined]
        return ok({"labels": list(owned.order_by("label").values_list("label", flat=True))})
    function = _publish(request)
    uri = describe(function, request)["uri"]
    return ok({"label": function.label, "uri": uri, "version": function.version})


@api_view(methods=("GET", "DELETE"))
def function_detail(request: HttpRequest, label: str) -> HttpResponse:
    """GET: the info dict of the key's function ``label``. DELETE: remove it (its jobs stay)."""
    owned = PublishedFunction.objects.select_related("owner").filter(
        owner=request.api_key,  # type: ignore[attr-defined]
        label=label,
    )
    function = owned.first()
    if function is None:
        raise ApiError(404, f"no published function {label!r}")
    if request.method == "GET":
        return ok(describe(function, request))
    function.delete()
    return ok({"removed": label})


def _publish(request: HttpRequest) -> PublishedFunction:
    check_size(request)
    if content_type_of(request) != MULTIPART:
        raise ApiError(415, "publish with multipart/form-data: the pickled function as file 'func'")
    try:
        form, files = request.POST, request.FILES
    except UnicodeDecodeError:
        raise ApiError(400, "a multipart field is not UTF-8") from None
    upload = files.get("func")
    blob = upload.read() if upload is not None else b""
    if not blob:
        raise ApiError(400, "the pickled function is missing: send it as the file field 'func'")
    out_encoding = form.get("out_encoding", "json")
    if out_encoding not in OUT_ENCODINGS:
        raise ApiError(400, f"out_encoding must be 'json' or 'raw', got {out_encoding!r}")
    values = {
        "func_pickle": blob,
        "out_encoding": out_encoding,
        "parameters": _parameters(form.get("parameters")),
        "options": _options(form.get("options")),
        **{name: form.get(name, "")[:limit] for name, limit in _TEXT_LIMITS.items()},
    }
    return _store(request.api_key, _check_label(form.get("label")), values)  # type: ignore[attr-defined]


def _store(owner: ApiKey, label: str, values: dict[str, Any]) -> PublishedFunction:
    try:
        with transaction.atomic():
            found = PublishedFunction.objects.select_for_update().filter(owner=owner, label=label)
            function = found.first() or PublishedFunction(owner=owner, label=label, version=0)
            for name, value in values.items():
                setattr(function, name, value)
            function.version += 1
            function.save()
    except IntegrityError:
        raise ApiError(409, f"{label!r} was published by another request at once; retry") from None
    return function


def _parameters(text: str | None) -> list[list[Any]] | None:
    if text in (None, "", "null"):
        return None
    found = decode_json(text, "parameters")
    shape_ok = isinstance(found, list) and all(
        isinstance(p, list)
        and len(p) == 3
        and isinstance(p[0], str)
        and p[1] in _KINDS
        and isinstance(p[2], bool)
        for p in found
    )
    if not shape_ok:
        raise ApiError(400, "parameters must be a JSON list of [name, kind, has_default]")
    try:
        signature_of(found)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"parameters do not make a signature: {exc}") from None
    return found


def _options(text: str | None) -> dict[str, Any]:
    found = decode_json(text, "options") if text else {}
    if not isinstance(found, dict):
        raise ApiError(400, "options must be a JSON object of reserved _keywords")
    found = {k: v for k, v in found.items() if k not in IGNORED_OPTIONS}
    for name in REFUSED_OPTIONS:
        if name in found:
            raise ApiError(400, f"{name} cannot be published: REST jobs have no client to call")
    if "_os_env_vars" in found and not isinstance(found["_os_env_vars"], dict):
        raise ApiError(400, "_os_env_vars must be a JSON object of name to value here")
    try:
        parse_options(found)
    except (CloudException, TypeError, ValueError) as exc:
        raise ApiError(400, str(exc)) from None
    return found
