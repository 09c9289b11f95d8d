"""An engine whose calls are relayed to an engine elsewhere: inside a job, the cloud API talks
to the job's supervisor, which runs each call on its own engine as the job's api key.

``RelayEngine`` turns each Engine call into a request (a method name and JSON-able arguments,
bytes as parts: picloud.sandbox.channel) handed to a ``transport``; ``serve`` runs a request
on a real engine. Nothing pickled is opened on the serving side: functions, arguments and
results pass as the bytes they are; info's ``args`` and ``kwargs`` as the job's pickled
(args, kwargs) pair and ``func_body`` as its pickled function, which the caller opens."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from picloud import exceptions, serialization, waits
from picloud.engines.base import Engine, Finished, Submission, Watcher
from picloud.files import errors as files_errors
from picloud.jobs import JobStatus
from picloud.options import parse_options, reserved_of

#: (method, arguments) -> the result, raising what the serving engine raised.
Transport = Callable[[str, dict[str, Any]], Any]
#: The longest one relayed wait blocks its supervisor (a longer wait is several).
WAIT_SLICE = 1.0
#: info fields whose values travel pickled.
PICKLED_FIELDS = ("args", "kwargs", "func_body")
#: Errors that cross the relay as themselves (others become CloudException).
_ERRORS = {
    cls.__name__: cls
    for cls in (
        exceptions.CloudException,
        exceptions.CloudTimeoutError,
        exceptions.NoSuchJobError,
        exceptions.InvalidJidError,
        exceptions.InvalidOptionError,
        exceptions.InvalidOptionTypeError,
        exceptions.DependencyFailed,
        exceptions.ConfigError,
        files_errors.NoSuchFileError,
        files_errors.InvalidFileNameError,
        files_errors.StoreUnavailableError,
    )
}


class RelayEngine:
    """The Engine protocol over a transport to the engine that really runs the jobs."""

    def __init__(
        self, transport: Transport, connection_type: str, wait_slice: float = WAIT_SLICE
    ) -> None:
        self._call = transport
        self.connection_type = connection_type
        self._wait_slice = wait_slice

    def submit(self, submission: Submission) -> range:
        args = {
            "func": submission.func_blob,
            "name": submission.func_name,
            "rows": list(submission.args_blobs),
            "options": reserved_of(submission.options),
        }
        if submission.manifest:
            args["manifest"] = submission.manifest
        return self._call("submit", args)

    def statuses(self, jids: Sequence[int]) -> list[JobStatus]:
        return [JobStatus(s) for s in self._call("statuses", {"jids": _jids(jids)})]

    def wait(self, jids: Sequence[int], timeout: float | None, stop_on_error: bool) -> list[int]:
        def once(pending: Sequence[int], seconds: float) -> list[int]:
            args = {"jids": _jids(pending), "timeout": seconds, "stop_on_error": stop_on_error}
            return self._call("wait", args)

        return waits.in_slices(once, self.statuses, jids, timeout, stop_on_error, self._wait_slice)

    def results(self, jids: Sequence[int]) -> list[Finished]:
        found = self._call("results", {"jids": _jids(jids)})
        return [Finished(JobStatus(status), result, error) for status, result, error in found]

    def done_results(self, jids: Sequence[int]) -> list[bytes] | None:
        return self._call("done_results", {"jids": _jids(jids)})

    def info(self, jids: Sequence[int], fields: Sequence[str]) -> dict[int, dict[str, Any]]:
        found = self._call("info", {"jids": _jids(jids), "fields": list(fields)})
        for values in found.values():
            for name in PICKLED_FIELDS:
                if isinstance(values.get(name), bytes):
                    opened = serialization.loads(values[name])
                    values[name] = opened if name == "func_body" else opened[name == "kwargs"]
        return found

    def kill(self, jids: Sequence[int] | None) -> None:
        self._call("kill", {"jids": None if jids is None else _jids(jids)})

    def delete(self, jids: Sequence[int]) -> None:
        self._call("delete", {"jids": _jids(jids)})

    def watch(self, jid: int, watcher: Watcher) -> None:
        """Call ``watcher`` from a thread of its own once ``jid`` finished."""

        def follow() -> None:
            while self.wait([jid], None, False):
                pass
            watcher(jid, self.statuses([jid])[0])

        threading.Thread(target=follow, name=f"picloud-watch-{jid}", daemon=True).start()

    def connection_info(self) -> dict[str, Any]:
        return {**self._call("connection_info", {}), "relayed": True}

    def close(self) -> bool:
        return False


def _jids(jids: Sequence[int]) -> Any:
    return jids if isinstance(jids, range) else [int(j) for j in jids]


def serve(
    engine: Engine,
    method: str,
    args: dict[str, Any],
    longest_wait: float = WAIT_SLICE,
    shipping: bool = False,
    reserve: Callable[[int], int] | None = None,
    remember: str | None = None,
) -> Any:
    """Run one relayed request on ``engine``; what it returns, ready to pack. A wait blocks
    at most ``longest_wait`` seconds; a submission brings the user's own modules (a manifest
    and the sources it names) only when ``shipping``, takes its jids from ``reserve(n)``
    (the first of n) when given, and has them stored under ``remember`` when given
    (Submission.remember). Raises what the engine raises, and CloudException for a request no
    RelayEngine makes."""
    handler = _HANDLERS.get(method)
    if handler is None:
        raise exceptions.CloudException(f"there is no call {method!r}")
    try:
        if method == "wait":
            args = {**args, "timeout": min(longest_wait, float(args["timeout"]))}
        if method == "submit":
            return _submit(engine, args, shipping, reserve, remember)
        return handler(engine, args)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, exceptions.CloudException):
            raise
        raise exceptions.CloudException(f"a malformed {method!r} call: {exc!r}") from None


def _submit(
    engine: Engine,
    args: dict[str, Any],
    shipping: bool = False,
    reserve: Callable[[int], int] | None = None,
    remember: str | None = None,
) -> range:
    rows = args["rows"]
    if not isinstance(args["func"], bytes) or not all(isinstance(r, bytes) for r in rows):
        raise TypeError("the function and rows must be bytes")
    options = parse_options(dict(args["options"]))
    manifest, sources = (args.get("manifest"), args.get("sources")) if shipping else (None, None)
    if manifest is not None and not isinstance(manifest, dict):
        raise TypeError("the manifest must be an object")
    if sources is not None and not (
        isinstance(sources, dict) and all(isinstance(v, bytes) for v in sources.values())
    ):
        raise TypeError("the sources must be an object of bytes")
    first = None if reserve is None or not rows else reserve(len(rows))
    submission = Submission(
        args["func"], str(args["name"]), rows, options, manifest, sources, first, remember
    )
    return engine.submit(submission)


def _info(engine: Engine, args: dict[str, Any]) -> dict[int, dict[str, Any]]:
    found = engine.info(_checked_jids(args), [str(f) for f in args["fields"]])
    for values in found.values():  # an engine that opened them: pickled again, as agreed
        if "func_body" in values and not isinstance(values["func_body"], bytes | None):
            values["func_body"] = serialization.dumps(values["func_body"])
        pairs = {"args": (values.get("args"), None), "kwargs": (None, values.get("kwargs"))}
        for name, pair in pairs.items():
            if name in values and not isinstance(values[name], bytes | None):
                values[name] = serialization.dumps(pair)
    return found


def _checked_jids(args: dict[str, Any]) -> Sequence[int]:
    jids = args["jids"]
    if isinstance(jids, range):
        return jids
    if not isinstance(jids, list) or not all(type(j) is int for j in jids):
        raise TypeError("jids must be a list of ints")
    return jids


_HANDLERS: dict[str, Callable[[Engine, dict[str, Any]], Any]] = {
    "submit": _submit,  # (served with serve's shipping flag)
    "statuses": lambda e, a: [s.value for s in e.statuses(_checked_jids(a))],
    "wait": lambda e, a: e.wait(_checked_jids(a), float(a["timeout"]), bool(a["stop_on_error"])),
    "results": lambda e, a: [list(f) for f in e.results(_checked_jids(a))],
    "done_results": lambda e, a: e.done_results(_checked_jids(a)),
    "info": _info,
    "kill": lambda e, a: e.kill(None if a["jids"] is None else _checked_jids(a)),
    "delete": lambda e, a: e.delete(_checked_jids(a)),
    "connection_info": lambda e, a: e.connection_info(),
}


def error_of(exc: BaseException) -> dict[str, Any]:
    """An error raised while serving, as a reply carries it."""
    if isinstance(exc, exceptions.CloudException):
        return {
            "type": type(exc).__name__ if type(exc).__name__ in _ERRORS else "CloudException",
            "message": str(exc.parameter),
            "jid": exc.jid if isinstance(exc.jid, int | list | None) else str(exc.jid),
            "status": exc.status if isinstance(exc.status, int | str | None) else None,
            "name": str(getattr(exc, "name", "")),
        }
    return {"type": "CloudException", "message": f"{type(exc).__name__}: {exc}"}


def raise_error(error: dict[str, Any]) -> None:
    """Raise what ``error_of`` described."""
    cls = _ERRORS.get(str(error.get("type")), exceptions.CloudException)
    exc = cls.__new__(cls)
    exceptions.CloudException.__init__(
        exc, error.get("message"), jid=error.get("jid"), status=error.get("status")
    )
    if error.get("name"):
        exc.name = error["name"]  # type: ignore[attr-defined]
    raise exc
