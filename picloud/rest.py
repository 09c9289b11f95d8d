"""cloud.rest: publish functions so that any HTTP client can run them (PiCloud's REST API),
through the web UI's HTTP API at ``server_url`` as the configured api key.

Differences from PiCloud:

- The invoke URL is ``<server_url>/r/<api_key>/<label>/``: the publishing key stands where
  PiCloud had the user id. Any key of the same web UI user may invoke it.
- ``out_encoding='raw'`` accepts str (sent as UTF-8) or bytes.
- ``invoke_map``'s ``"jids": "a-b"`` means ``range(a, b)``: ``b`` is one past the last jid
  (how PiCloud's own client read it).
- Labels ``.`` and ``..`` are refused (no URL can name them); ``_callback`` options raise
  ValueError (a REST job has no client to call back); ``_label`` and ``_depends_on*`` are
  ignored, as in PiCloud. Invocations get the label ``r/<api_key>/<label>``.
"""

from __future__ import annotations

import builtins
import inspect
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from picloud import serialization
from picloud.http import ApiClient, api_client
from picloud.options import parse_options, split_kwargs

#: The label rule of PiCloud's client.
LABEL = re.compile(r"^[A-Z0-9a-z_+\-.]+$")
#: Most jobs one ``invoke_map`` makes.
MAP_JOB_LIMIT = 500
#: Reserved keywords publish ignores, as PiCloud's did; and those it refuses.
IGNORED_OPTIONS = ("_label", "_depends_on", "_depends_on_errors")
REFUSED_OPTIONS = ("_callback", "_callback_on_error")

__all__ = ["publish", "register", "remove", "deregister", "list", "info", "invoke", "invoke_map"]


def _check_label(label: Any) -> str:
    if not isinstance(label, str) or not LABEL.match(label) or label in (".", ".."):
        raise TypeError(
            "Label can only consist of valid URI characters (alphanumeric or from set(_+-.)), "
            f"and not be . or ..; got {label!r}"
        )
    return label


def _path(label: str) -> str:
    return f"api/rest/{quote(_check_label(label), safe='')}/"


def publish(func: Callable[..., Any], label: str, out_encoding: str = "json", **kwargs: Any) -> str:
    """Publish ``func`` so that it can be invoked over HTTP; return the URL to POST to.

    ``out_encoding`` is how ``GET /job/result/`` returns the result: ``'json'`` (a
    JSON-encoded ``{"result": value}``) or ``'raw'`` (the bare str/bytes the function
    returns). ``kwargs`` are the reserved keywords of ``cloud.call`` each invocation runs with
    (``_type``, ``_priority``, ``_env``, ``_cores``, ``_max_runtime``, ``_restartable``,
    ``_profile``, ``_fast_serialization``, ``_os_env_vars``, ...). Publishing a label again
    replaces the function and raises its version.

    Raises TypeError for a bad label or a non-callable, ValueError for a bad out_encoding,
    the errors of ``cloud.call`` for bad options, PicklingFailure when ``func`` cannot be
    pickled, and CloudException when the server refuses.
    """
    if not callable(func):
        raise TypeError(f"cloud.rest.publish first argument ({func!r}) is not callable")
    _check_label(label)
    if not isinstance(out_encoding, str):
        raise TypeError("out_encoding must be an ASCII string")
    if out_encoding not in ("json", "raw"):
        raise ValueError(f"out_encoding must be 'json' or 'raw', got {out_encoding!r}")
    reserved, plain = split_kwargs(kwargs)
    if plain:
        raise TypeError(
            f"cloud.rest.publish got an unexpected keyword argument {next(iter(plain))!r} "
            "(only reserved _keywords are accepted)"
        )
    signature, parameters = _signature(func)
    fields = {
        "label": label,
        "out_encoding": out_encoding,
        "func_name": serialization.function_name(func),
        "signature": signature,
        "description": inspect.cleandoc(func.__doc__) if func.__doc__ else "",
        "parameters": json.dumps(parameters),
        "options": json.dumps(_options(reserved)),
    }
    blob = serialization.dumps_function(func)
    with api_client() as client:
        files = {"func": ("function.pickle", blob, "application/octet-stream")}
        client.request("POST", "api/rest/", data=fields, files=files)
        return f"{client.base}r/{quote(client.username, safe='')}/{label}/"


register = publish


def _options(reserved: dict[str, Any]) -> dict[str, Any]:
    for name in REFUSED_OPTIONS:
        if name in reserved:
            raise ValueError(
                f"cloud.rest.publish does not take {name}: a REST job has no client to call back"
            )
    kept = {k: v for k, v in reserved.items() if k not in IGNORED_OPTIONS}
    parsed = parse_options(kept)  # the errors cloud.call raises
    if "_os_env_vars" in kept:  # names are read here, now, as PiCloud did
        kept["_os_env_vars"] = dict(parsed.wire.os_env_vars)
    return kept


def _signature(func: Callable[..., Any]) -> tuple[str, builtins.list[builtins.list[Any]] | None]:
    """The signature as text, and ``[name, kind, has default]`` per parameter (for the server
    to check invocations; None when Python cannot tell)."""
    try:
        found = inspect.signature(func)
    except (TypeError, ValueError):
        return "", None
    parameters = [
        [p.name, p.kind.name, p.default is not inspect.Parameter.empty]
        for p in found.parameters.values()
    ]
    return str(found), parameters


def remove(label: str) -> None:
    """Remove the published function ``label`` (its jobs stay); CloudException if unknown."""
    with api_client() as client:
        client.request("DELETE", _path(label))


deregister = remove


def list() -> builtins.list[str]:
    """The labels of this api key's published functions."""
    with api_client() as client:
        return client.request("GET", "api/rest/")["labels"]


def info(label: str) -> dict[str, Any]:
    """``{label, output_encoding, uri, signature, description, version}`` (and ``function``,
    ``created``, ``updated``) of the published function ``label``."""
    with api_client() as client:
        return client.request("GET", _path(label))


def invoke(label: str, **kwargs: Any) -> int:
    """Run the published function ``label`` once with ``kwargs``; return the jid.

    Values are sent JSON-encoded (TypeError if they cannot be); file-like objects are sent as
    their bytes."""
    return _invoke(label, {name: [value] for name, value in kwargs.items()}, is_map=False)


def invoke_map(label: str, **kwargs: Any) -> range:
    """Run ``label`` once per item: each kwarg is a list of items, a one-item list goes to
    every job, the longer ones must be equally long (at most 500 jobs). Returns the jids."""
    return _invoke(label, kwargs, is_map=True)


def _invoke(label: str, arguments: dict[str, Any], is_map: bool) -> Any:
    fields: builtins.list[tuple[str, str]] = []
    files: builtins.list[tuple[str, tuple[str, bytes]]] = []
    count = 1
    for name, items in arguments.items():
        if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
            raise TypeError(f"{name} must map to an iterable")
        encoded = [_encode(name, item) for item in items]
        if not encoded:
            raise ValueError(f"{name} cannot be bound to an empty list")
        if len(encoded) > MAP_JOB_LIMIT:
            raise ValueError(f"{name} has {len(encoded)} items. Maximum is {MAP_JOB_LIMIT}")
        if len(encoded) > 1:
            if count > 1 and len(encoded) != count:
                raise ValueError(
                    f"{name} has {len(encoded)} items. Expected {count} to match with other "
                    "arguments"
                )
            count = len(encoded)
        for item in encoded:
            if isinstance(item, bytes):
                files.append((name, (name, item)))
            else:
                fields.append((name, item))
    with api_client() as client:
        where = f"r/{quote(client.username, safe='')}/{quote(_check_label(label), safe='')}/"
        answer = _post(client, where + ("map/" if is_map else ""), fields, files)
    if not is_map:
        return answer["jid"]
    start, stop = answer["jids"].split("-")
    return range(int(start), int(stop))


def _encode(name: str, item: Any) -> str | bytes:
    if hasattr(item, "read"):
        data = item.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        return json.dumps(item)
    except (TypeError, ValueError):
        raise TypeError(f"{name} is not json encodable") from None


def _post(
    client: ApiClient,
    path: str,
    fields: builtins.list[tuple[str, str]],
    files: builtins.list[tuple[str, tuple[str, bytes]]],
) -> Any:
    if files:
        return client.request("POST", path, data=fields, files=files)
    return client.request("POST", path, data=fields)
