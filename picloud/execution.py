"""Running one job in a worker: arguments, environment, profile, traceback."""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from picloud import runtime, serialization
from picloud.accounting import Usage
from picloud.exceptions import JobKilled, PicklingFailure
from picloud.jobs import JobStatus
from picloud.options import WireOptions

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_PROFILE_LINES = 40


class Outcome(NamedTuple):
    """How one job ended, as a worker reports it."""

    jid: int
    status: str
    result: bytes | None
    exception: str | None
    started: float
    runtime: float
    profile: str | None = None
    #: what the job used, where it was measured
    usage: Usage | None = None
    #: it ended because it exceeded its pool's memory limit
    memory_exceeded: bool = False


_DONE, _ERROR, _KILLED = JobStatus.DONE.value, JobStatus.ERROR.value, JobStatus.KILLED.value


def run_job(
    jid: int,
    func: Callable[..., Any],
    args_blob: bytes,
    options: WireOptions,
) -> Outcome:
    """Run ``func`` with the pickled arguments; never raises (the outcome says what happened)."""
    started = time.time()
    clock = time.perf_counter()
    profile_text = None
    runtime.job.jid = jid
    try:
        args, kwargs = serialization.loads(args_blob)
        if not options.os_env_vars and not options.profile:
            value = func(*args, **kwargs)  # the common case, without context managers
        else:
            with _environment(options.os_env_vars):
                if options.profile:
                    value, profile_text = _profiled(func, args, kwargs)
                else:
                    value = func(*args, **kwargs)
    except JobKilled:
        return Outcome(
            jid,
            _KILLED,
            None,
            remote_traceback(),
            started,
            time.perf_counter() - clock,
            profile_text,
        )
    except BaseException:
        return Outcome(
            jid,
            _ERROR,
            None,
            remote_traceback(),
            started,
            time.perf_counter() - clock,
            profile_text,
        )
    finally:
        runtime.job.jid = None
    elapsed = time.perf_counter() - clock
    try:
        blob = serialization.dumps_labelled(value, "result", options.fast_serialization)
    except PicklingFailure as exc:
        message = f"Could not pickle the job's result: {exc}"
        return Outcome(jid, _ERROR, None, message, started, elapsed, profile_text)
    return Outcome(jid, _DONE, blob, None, started, elapsed, profile_text)


def remote_traceback() -> str:
    """The current exception's traceback text without picloud's own frames."""
    exc = sys.exc_info()[1]
    report = traceback.TracebackException.from_exception(exc) if exc else None
    if report is None:
        return ""
    for part in _chain(report):
        kept = [f for f in part.stack if not f.filename.startswith(_PACKAGE_DIR)]
        part.stack = traceback.StackSummary.from_list(kept)
    return "".join(report.format())


def _chain(report: traceback.TracebackException) -> Iterator[traceback.TracebackException]:
    seen: set[int] = set()
    stack = [report]
    while stack:
        part = stack.pop()
        if id(part) in seen:
            continue
        seen.add(id(part))
        yield part
        stack.extend(p for p in (part.__cause__, part.__context__) if p is not None)


@contextlib.contextmanager
def _environment(pairs: tuple[tuple[str, str], ...]) -> Iterator[None]:
    if not pairs:
        yield
        return
    saved = {name: os.environ.get(name) for name, _ in pairs}
    os.environ.update(pairs)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def _profiled(func: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[Any, str]:
    profiler = cProfile.Profile()
    try:
        value = profiler.runcall(func, *args, **kwargs)
    finally:
        profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(_PROFILE_LINES)
    return value, text.getvalue()
