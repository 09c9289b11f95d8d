"""The reserved ``_keyword`` arguments of call/map, parsed once into a frozen JobOptions."""

from __future__ import annotations

import difflib
import inspect
import os
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from picloud.exceptions import CloudException, InvalidOptionError, InvalidOptionTypeError
from picloud.jids import flatten_jids

#: Pools (``_type``) and the ``_cores`` each allows.
CORES_BY_TYPE: dict[str, frozenset[int]] = {
    "c1": frozenset({1}),
    "c2": frozenset({1, 2, 4, 8}),
    "m1": frozenset({1, 2, 4, 8}),
    "s1": frozenset({1}),
}
DEFAULT_PRIORITY = 5
RESERVED = (
    "_callback",
    "_callback_on_error",
    "_cores",
    "_depends_on",
    "_depends_on_errors",
    "_env",
    "_fast_serialization",
    "_high_cpu",
    "_kill_process",
    "_label",
    "_max_runtime",
    "_os_env_vars",
    "_priority",
    "_profile",
    "_restartable",
    "_type",
    "_vol",
)


@dataclass(frozen=True)
class WireOptions:
    """What a worker needs to run a job (never the client-side callbacks)."""

    fast_serialization: int = 0
    profile: bool = False
    kill_process: bool = False
    max_runtime: int | None = None
    os_env_vars: tuple[tuple[str, str], ...] = ()


def wire_options(found: Mapping[str, Any]) -> WireOptions:
    """WireOptions from their JSON form in a message (``os_env_vars`` as pairs)."""
    fields = dict(found)
    fields["os_env_vars"] = tuple((str(n), str(v)) for n, v in fields.get("os_env_vars", ()))
    return WireOptions(**fields)


@dataclass(frozen=True)
class JobOptions:
    """Every reserved keyword of one call or map, validated."""

    callback: tuple[Callable[..., Any], ...] = ()
    callback_on_error: tuple[Callable[..., Any], ...] = ()
    depends_on: tuple[int, ...] = ()
    depends_on_errors: str = "abort"
    priority: int = DEFAULT_PRIORITY
    label: str | None = None
    type: str = "c1"
    cores: int = 1
    env: str | None = None
    vol: tuple[str, ...] = ()
    restartable: bool = True
    wire: WireOptions = field(default_factory=WireOptions)

    @property
    def attributes(self) -> dict[str, Any]:
        """The creation attributes ``info(jid, 'attributes')`` shows."""
        return {
            "env": self.env,
            "vol": list(self.vol),
            "core_type": self.type,
            "cores": self.cores,
            "max_runtime": self.wire.max_runtime,
            "label": self.label,
            "priority": self.priority,
            "restartable": self.restartable,
            "kill_process": self.wire.kill_process,
            "profile": self.wire.profile,
            "fast_serialization": self.wire.fast_serialization,
            "depends_on_errors": self.depends_on_errors,
        }


def split_kwargs(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split call kwargs into (reserved ``_`` options, the function's own kwargs)."""
    reserved = {k: v for k, v in kwargs.items() if k.startswith("_")}
    plain = {k: v for k, v in kwargs.items() if not k.startswith("_")}
    return reserved, plain


def parse_options(reserved: Mapping[str, Any]) -> JobOptions:
    """Validate reserved keywords; raise a clear error naming the first bad one."""
    if not reserved:
        return _DEFAULT_OPTIONS
    for name in reserved:
        if name not in RESERVED:
            raise _unknown(name)
    get = reserved.get
    job_type = _job_type(get("_type", "c1"), get("_high_cpu", False))
    wire = WireOptions(
        fast_serialization=_fast_serialization(get("_fast_serialization", 0)),
        profile=bool(get("_profile", False)),
        kill_process=bool(get("_kill_process", False)),
        max_runtime=_max_runtime(get("_max_runtime")),
        os_env_vars=_os_env_vars(get("_os_env_vars")),
    )
    return JobOptions(
        callback=_callbacks(get("_callback"), "_callback"),
        callback_on_error=_callbacks(get("_callback_on_error"), "_callback_on_error"),
        depends_on=_depends_on(get("_depends_on")),
        depends_on_errors=_depends_on_errors(get("_depends_on_errors", "abort")),
        priority=_priority(get("_priority", DEFAULT_PRIORITY)),
        label=_label(get("_label")),
        type=job_type,
        cores=_cores(get("_cores", 1), job_type),
        env=None if get("_env") is None else _str("_env", get("_env")),
        vol=_vol(get("_vol")),
        restartable=_bool_strict("_restartable", get("_restartable", True)),
        wire=wire,
    )


_DEFAULT_OPTIONS = JobOptions()


def reserved_of(options: JobOptions) -> dict[str, Any]:
    """The reserved keywords (JSON-able, callbacks left out) that ``parse_options`` turns back
    into ``options``: how options travel as data, to be checked again where they arrive."""
    wire = options.wire
    return {
        "_depends_on": list(options.depends_on),
        "_depends_on_errors": options.depends_on_errors,
        "_priority": options.priority,
        "_label": options.label,
        "_type": options.type,
        "_cores": options.cores,
        "_env": options.env,
        "_vol": list(options.vol),
        "_restartable": options.restartable,
        "_fast_serialization": wire.fast_serialization,
        "_profile": wire.profile,
        "_kill_process": wire.kill_process,
        "_max_runtime": wire.max_runtime,
        "_os_env_vars": dict(wire.os_env_vars),
    }


def _unknown(name: str) -> InvalidOptionTypeError:
    close = difflib.get_close_matches(name, RESERVED, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return InvalidOptionTypeError(
        f"unknown reserved keyword argument {name}{hint} "
        f"(reserved: {', '.join(RESERVED)}; a function's own keyword arguments "
        "must not start with '_')"
    )


def _job_type(value: Any, high_cpu: Any) -> str:
    if high_cpu and value == "c1":
        value = "c2"
    if not isinstance(value, str):
        raise InvalidOptionTypeError(f"_type must be a str, got {value!r}")
    if value not in CORES_BY_TYPE:
        raise InvalidOptionError(
            f"_type {value!r} is not a pool; choose one of {', '.join(CORES_BY_TYPE)}"
        )
    return value


def _cores(value: Any, job_type: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionTypeError(f"_cores must be a positive int, got {value!r}")
    allowed = CORES_BY_TYPE[job_type]
    if value not in allowed:
        raise InvalidOptionError(
            f"_cores={value} is not available on _type {job_type!r} "
            f"(allowed: {', '.join(map(str, sorted(allowed)))})"
        )
    return value


def _callbacks(value: Any, name: str) -> tuple[Callable[..., Any], ...]:
    if value is None:
        return ()
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not callable(item):
            raise CloudException(f"All callbacks must be callable ({name} got {item!r})")
    return tuple(items)


def _depends_on(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    return tuple(flatten_jids(value, what="_depends_on"))


def _depends_on_errors(value: Any) -> str:
    if value not in ("abort", "ignore"):
        raise InvalidOptionError(f"_depends_on_errors must be 'abort' or 'ignore', got {value!r}")
    return str(value)


def _priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionTypeError(f"_priority must be an int, got {value!r}")
    return value


def _label(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.isascii():
        raise InvalidOptionTypeError(f"_label must be an ASCII string, got {value!r}")
    return value


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidOptionTypeError(f"{name} must be a str, got {value!r}")
    return value


def _vol(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise InvalidOptionTypeError(f"_vol must be a str or a list of str, got {value!r}")
    return tuple(items)


def _bool_strict(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidOptionTypeError(f"{name} must be True or False, got {value!r}")
    return value


def _fast_serialization(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionTypeError(f"_fast_serialization must be 0, 1 or 2, got {value!r}")
    if value not in (0, 1, 2):
        raise InvalidOptionError(f"_fast_serialization must be 0, 1 or 2, got {value!r}")
    return value


def _max_runtime(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionTypeError(f"_max_runtime must be an int (minutes), got {value!r}")
    if value <= 0:
        raise InvalidOptionError(f"_max_runtime must be at least 1 minute, got {value}")
    return value


def _os_env_vars(value: Any) -> tuple[tuple[str, str], ...]:
    """A list of names (their values taken from this process now) or a name → value dict."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        missing = [name for name in value if name not in os.environ]
        if missing:
            raise InvalidOptionError(
                f"_os_env_vars names variables not set here: {', '.join(missing)}"
            )
        pairs = [(name, os.environ[name]) for name in value]
    else:
        raise InvalidOptionTypeError(
            f"_os_env_vars must be a list of names or a dict of name to value, got {value!r}"
        )
    for name, val in pairs:
        if not isinstance(name, str) or not isinstance(val, str) or not name or "=" in name:
            raise InvalidOptionError(
                f"_os_env_vars entry {name!r}: {val!r} is not a valid variable"
            )
    return tuple(pairs)


def check_function_arguments(func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    """Raise TypeError as Python would if ``func`` cannot take these arguments."""
    signature = _signature(func)
    if signature is None:  # builtins without a signature: let the job find out
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{getattr(func, '__name__', func)}(): {exc}") from None


_signatures: weakref.WeakKeyDictionary[Any, inspect.Signature] = weakref.WeakKeyDictionary()


def _signature(func: Callable[..., Any]) -> inspect.Signature | None:
    """``inspect.signature``, remembered per function (it costs 7 µs a call)."""
    try:
        return _signatures[func]
    except (KeyError, TypeError):
        pass
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    try:
        _signatures[func] = signature
    except TypeError:  # not weakly referenceable: not remembered
        pass
    return signature
