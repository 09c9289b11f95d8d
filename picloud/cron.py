"""``cloud.cron``: functions the cluster runs on a schedule (UTC), managed by label.

The client checks the schedule and the function here, then hands the pickled function to the
web UI (``server_url``) with a *grant* signed by the api secret (picloud.signing): the server,
which never holds the secret, fires each run as an ordinary job carrying that grant. Each run
is a job of its own (its own jid, output and errors) labelled with the cron's label.

Schedules are PiCloud's five fields ``min hour day mon dow``: ``*``, ``N``, ``a,b``, ``a-b``,
``*/S``, ``a-b/S`` and ``N/S`` (from N on, every S); month and weekday names (``jan``,
``mon``); in the weekday field ``?`` means ``*`` and 0 or 7 is Sunday. There is no year field.
As in Celery beat, a day of the month and a day of the week must both match."""

from __future__ import annotations

import base64
import functools
import inspect
import socket
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from picloud import http, serialization, signing
from picloud.engines.cluster.engine import granted_fields
from picloud.exceptions import InvalidOptionError, NoWorkerWarning
from picloud.http import api_client
from picloud.options import JobOptions, parse_options, reserved_of

#: PiCloud's message for a schedule that is not five fields (also the start of every other).
FORMAT_ERROR = "Invalid cron string. Format: min hour day mon dow"
#: Longest label (it names the periodic task in django-celery-beat).
MAX_LABEL = 100
#: Reserved keywords register ignores, as PiCloud's did.
IGNORED = ("_label", "_depends_on", "_depends_on_errors")
#: Reserved keywords a cron cannot use: its runs have no client to call back.
UNSUPPORTED = ("_callback", "_callback_on_error")

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day of month", 1, 31, {}),
    _Field("month", 1, 12, {n: i for i, n in enumerate(_MONTHS, start=1)}),
    _Field("day of week", 0, 7, {n: i for i, n in enumerate(_DAYS)}),
)


@dataclass(frozen=True)
class Schedule:
    """A checked schedule: the text as registered and each field in Celery's crontab syntax
    (only numbers, ranges and lists; ``*`` for every value; Sunday is 0)."""

    text: str
    minute: str
    hour: str
    day_of_month: str
    month_of_year: str
    day_of_week: str


def parse_schedule(schedule: Any) -> Schedule:
    """Check a cron string or 5-item sequence; ValueError (PiCloud's message, then what is
    wrong) if it is not a valid schedule."""
    if isinstance(schedule, str):
        text = schedule
    elif isinstance(schedule, Sequence):
        if len(schedule) != 5:
            raise ValueError(FORMAT_ERROR)
        text = " ".join(str(part) for part in schedule)
    else:
        raise TypeError(f"schedule must be a cron string or 5 fields, got {schedule!r}")
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(FORMAT_ERROR)
    fields = [_render(_values(part, field), field) for part, field in zip(parts, _FIELDS)]
    return Schedule(" ".join(parts), *fields)


def _values(text: str, field: _Field) -> set[int]:
    values: set[int] = set()
    for item in text.lower().split(","):
        body, slash, step_text = item.partition("/")
        step = _number(step_text, field, item, step=True) if slash else 1
        if body == "*" or (body == "?" and field.name == "day of week"):
            low, high = field.low, field.high
        elif "-" in body:
            start, _, end = body.partition("-")
            low, high = _number(start, field, item), _number(end, field, item)
            if low > high:
                raise _invalid(field, item, f"the range runs backwards ({low} > {high})")
        else:
            low = _number(body, field, item)
            high = field.high if slash else low  # N/S: from N to the end, every S
        values.update(range(low, high + 1, step))
    if field.name == "day of week" and 7 in values:
        values = (values - {7}) | {0}  # 7 is Sunday too
    return values


def _number(text: str, field: _Field, item: str, step: bool = False) -> int:
    if text.isdigit() and text.isascii():
        value = int(text)
    elif text in field.names and not step:
        return field.names[text]
    else:
        raise _invalid(field, item, f"{text!r} is not a number")
    if step and value < 1:
        raise _invalid(field, item, "a step must be 1 or more")
    if not step and not field.low <= value <= field.high:
        raise _invalid(field, item, f"{value} is outside {field.low}-{field.high}")
    return value


def _invalid(field: _Field, item: str, why: str) -> ValueError:
    return ValueError(f"{FORMAT_ERROR} ({field.name} {item!r}: {why})")


def _render(values: set[int], field: _Field) -> str:
    """``*`` for every value, else runs folded: ``1-5,7``."""
    high = 6 if field.name == "day of week" else field.high
    if values >= set(range(field.low, high + 1)):
        return "*"
    runs: list[str] = []
    ordered = sorted(values)
    start = previous = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        runs.append(str(start) if start == previous else f"{start}-{previous}")
        if value is not None:
            start = previous = value
    return ",".join(runs)


def check_label(label: Any) -> str:
    """A cron label: a non-empty printable ASCII string of at most MAX_LABEL characters."""
    if not isinstance(label, str):
        raise TypeError(f"cron label must be an ASCII string, got {label!r}")
    if not label or not label.isascii() or not label.isprintable() or len(label) > MAX_LABEL:
        raise ValueError(
            f"cron label must be 1 to {MAX_LABEL} printable ASCII characters, got {label!r}"
        )
    return label


def check_no_arguments(func: Callable[..., Any]) -> None:
    """ValueError (PiCloud's message) unless ``func`` can be called with no arguments."""
    if not callable(func):
        raise TypeError(f"cron.register first argument ({func!r}) is not callable")
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: the run will tell
        return
    takes = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    required = [p.name for p in parameters if p.default is p.empty and p.kind not in takes]
    if required:
        name = serialization.function_name(func)
        raise ValueError(
            f"cron functions must have 0 (required) arguments. {name} requires "
            f"{', '.join(required)}; wrap it in a closure, e.g. lambda: f(x, y)"
        )


def cron_options(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The reserved keywords of ``register`` checked and made explicit (JSON-able, and the
    same job options wherever they are parsed again: ``_os_env_vars`` names become values)."""
    plain = [name for name in kwargs if not name.startswith("_")]
    if plain:
        raise TypeError(
            f"cron.register got keyword argument {plain[0]!r}: cron functions take no "
            "arguments (wrap them in a closure); only reserved _keywords are accepted"
        )
    for name in UNSUPPORTED:
        if kwargs.get(name) is not None:
            raise InvalidOptionError(
                f"{name} is not supported by cron.register: its runs have no client to call"
            )
    options = parse_options({k: v for k, v in kwargs.items() if k not in IGNORED})
    return stored_options(options)


def stored_options(options: JobOptions) -> dict[str, Any]:
    """JobOptions as reserved keywords that ``parse_options`` turns back into the same, but
    those a cron's runs ignore (label, dependencies)."""
    found = reserved_of(options)
    for name in IGNORED:
        del found[name]
    return found


def grant_spec(func_blob: bytes, options: Mapping[str, Any]) -> dict[str, Any]:
    """What a cron's grant covers besides key and label: its runs' function digest, job
    options and queue, as their messages will carry them."""
    return {"func": signing.digest(func_blob), **granted_fields(parse_options(options))}


# --- the API ------------------------------------------------------------------------------------
def register(func: Callable[[], Any], label: str, schedule: Any, **kwargs: Any) -> None:
    """Run ``func`` (no arguments) on the cluster on ``schedule`` (UTC), as cron ``label``.

    ``schedule`` is ``"min hour day mon dow"`` or a sequence of those five fields. The
    reserved keywords of ``cloud.call`` apply to every run (``_type``, ``_env``,
    ``_fast_serialization``, ``_profile``, ``_restartable``, ``_max_runtime``, …);
    ``_label`` and ``_depends_on*`` are ignored. Raises ValueError for a bad schedule or a
    function that needs arguments, CloudException if the label is taken."""
    label = check_label(label)
    checked = parse_schedule(schedule)
    check_no_arguments(func)
    options = cron_options(kwargs)
    func_blob = serialization.dumps_function(func)
    with api_client() as client:
        api_key, secret = client.session.auth  # type: ignore[misc]
        grant = signing.Signer(api_key, secret).grant(label, grant_spec(func_blob, options))
        client.request(
            "POST",
            "api/cron/register/",
            json={
                "label": label,
                "schedule": checked.text,
                "function": base64.b64encode(func_blob).decode(),
                "funcname": _funcname(func),
                "options": options,
                "grant": grant,
                "creator_host": socket.gethostname(),
            },
        )


def _funcname(func: Callable[..., Any]) -> str:
    """``module.qualname`` (of the wrapped function, for a functools.partial)."""
    inner = func
    while isinstance(inner, functools.partial):
        inner = inner.func
    name = serialization.function_name(inner)
    return f"{name} (partial)" if inner is not func else name


def deregister(label: str) -> None:
    """Delete cron ``label``; its runs already queued end in error without running.
    CloudException if there is no such cron."""
    http.call("POST", "api/cron/deregister/", json={"label": check_label(label)})


def manual_run(label: str) -> int:
    """Run cron ``label`` now; return the jid of the job."""
    answer = http.call("POST", "api/cron/run/", json={"label": check_label(label)})
    if answer.get("unserved"):
        warnings.warn(NoWorkerWarning(answer["unserved"]), stacklevel=2)
    return int(answer["jid"])


def list_crons() -> list[str]:
    """The labels of this api key's crons."""
    return [*http.call("GET", "api/cron/list/")["labels"]]


def info(label: str) -> dict[str, Any]:
    """About cron ``label``: label, schedule, last_run, last_jid, created, creator_host,
    funcname (also as func_name) and core_type; times are UTC strings, and last_run and
    last_jid are None before the first run."""
    return dict(http.call("GET", "api/cron/info/", params={"label": check_label(label)}))


#: PiCloud's name (it shadows the builtin only inside this module's namespace).
list = list_crons  # noqa: A001

__all__ = ["register", "deregister", "manual_run", "list", "info"]
