"""Cloud: the PiCloud API (call, map, result, …) on top of one engine, opened on first use."""

from __future__ import annotations

import atexit
import itertools
import multiprocessing.util  # noqa: F401  (its exit handler must be registered before ours)
import os
import pickle
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from picloud import config, dependencies, runtime, serialization, waits
from picloud.callbacks import CallbackRunner
from picloud.engines.base import Engine, Finished, Submission
from picloud.exceptions import (
    CloudException,
    CloudTimeoutError,
    DependencyFailed,
    InvalidOptionTypeError,
)
from picloud.iresult import IResult
from picloud.jids import flatten_jids, is_single
from picloud.jobs import ALL_INFO_FIELDS, DEFAULT_INFO_FIELDS, JobStatus
from picloud.options import check_function_arguments, parse_options, split_kwargs

_INFO_GROUPS = ("memory", "cputime", "cpu_percentage", "ports")
#: Seconds the jobs a job waits for may all stay queued before join/result inside the job
#: call it a dead-lock (PiCloud's figure; PICLOUD_DEADLOCK_SECONDS changes it).
DEADLOCK_SECONDS = 60.0
#: How often a waiting job looks at them.
DEADLOCK_POLL = 1.0
_clouds: weakref.WeakSet[Cloud] = weakref.WeakSet()


class Cloud:
    """One connection to an engine, with PiCloud's API. ``cloud`` and ``cloud.mp`` are two."""

    def __init__(
        self, engine_factory: Callable[[], Engine], connection_type: Callable[[], str]
    ) -> None:
        """``engine_factory`` opens the engine on first use; ``connection_type`` says, without
        opening anything, which kind it would open ('simulation', 'multiprocessing',
        'cluster')."""
        self._factory = engine_factory
        self._connection_type = connection_type
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._callbacks = CallbackRunner()
        _clouds.add(self)

    # --- connection ---------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The open engine (opened now if needed)."""
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._factory()
                engine = self._engine
        return engine

    def switch(
        self, engine_factory: Callable[[], Engine], connection_type: Callable[[], str]
    ) -> None:
        """Close the current engine and use ``engine_factory`` from now on."""
        self.close()
        self._factory = engine_factory
        self._connection_type = connection_type

    def close(self) -> bool:
        """Close the engine and stop callback threads; True if something was open."""
        with self._lock:
            engine, self._engine = self._engine, None
        closed = engine.close() if engine is not None else False
        self._callbacks.close()
        return closed

    def _forget_after_fork(self) -> None:
        self._engine = None
        self._lock = threading.Lock()
        self._callbacks = CallbackRunner()

    def connection_info(self) -> dict[str, Any]:
        """What this connection is (type, whether it is open, and where it runs jobs)."""
        engine = self._engine
        if engine is None:
            return {"opened": False, "connection_type": self._connection_type()}
        return engine.connection_info()

    def is_simulated(self) -> bool:
        """True when jobs run on this machine."""
        return self.connection_info()["connection_type"] in ("simulation", "multiprocessing")

    # --- submitting ---------------------------------------------------------------------------
    def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        """Run ``func(*args, **kwargs)`` as a job and return its jid.

        Keyword arguments starting with ``_`` are PiCloud's reserved options (``_type``,
        ``_priority``, ``_depends_on``, …); all others go to ``func``. Raises TypeError or
        ValueError for a bad option and PicklingFailure (naming the object) when ``func`` or an
        argument cannot be serialized; nothing is queued then."""
        if not callable(func):
            raise TypeError(f"cloud.call first argument ({func!r}) is not callable")
        reserved, plain = split_kwargs(kwargs)
        options = parse_options(reserved)
        check_function_arguments(func, args, plain)
        mode = options.wire.fast_serialization
        func_blob = serialization.dumps_function(func)
        blobs = [_dumps_arguments(args, plain, mode, "")]
        submission = Submission(
            func_blob=func_blob,
            func_name=serialization.function_name(func),
            args_blobs=blobs,
            options=options,
            manifest=self._manifest(func, func_blob, blobs),
        )
        return self._submit(submission)[0]

    def map(self, func: Callable[..., Any], *iterables: Iterable[Any], **kwargs: Any) -> Any:
        """Run ``func`` on each row of the zipped ``iterables`` (shorter ones padded with None);
        return the jids as a range, usable wherever jids are accepted."""
        if not callable(func):
            raise TypeError(f"cloud.map first argument ({func!r}) is not callable")
        if not iterables:
            raise ValueError("cloud.map needs at least 2 arguments")
        reserved, plain = split_kwargs(kwargs)
        if plain:
            raise ValueError(
                "Cannot pass keyword arguments into cloud.map Unexpected keyword "
                f"argument {next(iter(plain))}"
            )
        for position, iterable in enumerate(iterables, start=2):
            if not hasattr(iterable, "__iter__"):
                raise TypeError(f"map argument {position} ({iterable!r}) is not an iterable")
        options = parse_options(reserved)
        mode = options.wire.fast_serialization
        rows = iterables[0] if len(iterables) == 1 else itertools.zip_longest(*iterables)
        blobs = _dumps_rows(rows, len(iterables) == 1, mode)
        if not blobs:
            return []
        func_blob = serialization.dumps_function(func)
        submission = Submission(
            func_blob=func_blob,
            func_name=serialization.function_name(func),
            args_blobs=blobs,
            options=options,
            manifest=self._manifest(func, func_blob, blobs),
        )
        return self._submit(submission)

    def _manifest(
        self, func: Callable[..., Any], func_blob: bytes, blobs: Sequence[bytes]
    ) -> dict[str, Any] | None:
        """The user's own modules the jobs need, when they are to travel: to the cluster,
        with automatic_dependency_transfer on (a job's own submissions take its modules
        along by themselves)."""
        if runtime.supervisor is not None or not config.current().automatic_dependency_transfer:
            return None
        if self.engine.connection_type != "cluster":
            return None
        found = dependencies.manifest(func, func_blob, blobs)
        return found if found["modules"] or found["cannot_travel"] else None

    def _submit(self, submission: Submission) -> range:
        """Queue the jobs and register their callbacks."""
        _check_size(submission)
        jids = self.engine.submit(submission)
        options = submission.options
        if options.callback or options.callback_on_error:
            watcher = self._callbacks.watcher(options.callback, options.callback_on_error)
            for jid in jids:
                self.engine.watch(jid, watcher)
        return jids

    # --- reading ------------------------------------------------------------------------------
    def status(self, jids: Any) -> Any:
        """The status string of a jid, or a list of them for many jids."""
        statuses = self.engine.statuses(flatten_jids(jids))
        values = [s.value for s in statuses]
        return values[0] if is_single(jids) else values

    def join(
        self,
        jids: Any,
        timeout: float | None = None,
        ignore_errors: bool = False,
        deadlock_check: bool = True,
    ) -> None:
        """Wait until the jobs finish. Raises CloudException for the first failed job found
        (unless ignore_errors) and CloudTimeoutError (``.jid`` = the pending jids) on timeout."""
        jid_list = flatten_jids(jids)
        pending = self._wait(jid_list, timeout, not ignore_errors, deadlock_check, "join")
        self._raise_for(jid_list, pending, ignore_errors)

    def _wait(
        self, jids: Any, timeout: float | None, stop_on_error: bool, deadlock_check: bool, name: str
    ) -> list[int]:
        """The engine's wait; inside a job with ``deadlock_check``, in slices, raising
        CloudTimeoutError when the awaited jobs all stay queued DEADLOCK_SECONDS (PiCloud's
        check: the workers that would run them are likely all waiting like this job)."""
        engine = self.engine
        if not (deadlock_check and runtime.running_on_cloud()):
            return engine.wait(jids, timeout, stop_on_error)
        patience = float(os.environ.get("PICLOUD_DEADLOCK_SECONDS") or DEADLOCK_SECONDS)

        def error(pending: list[int]) -> Exception:
            return CloudTimeoutError(
                f"cloud.{name} detected possible dead-lock due to recursive jobs: the jobs this "
                f"job waits for stayed queued for {patience:g} s, most likely because every "
                "worker of their pool is busy with a job that waits like this one. Run the "
                "inner jobs on another _type, or pass deadlock_check=False to wait anyway",
                pending,
            )

        check = waits.DeadlockCheck(engine.statuses, patience, error)
        return waits.in_slices(
            lambda pending, seconds: engine.wait(pending, seconds, stop_on_error),
            engine.statuses,
            jids,
            timeout,
            stop_on_error,
            DEADLOCK_POLL,
            check,
        )

    def _raise_for(self, jid_list: Any, pending: list[int], ignore_errors: bool) -> None:
        """After a wait: raise the first failed job's error (unless ignore_errors), then
        CloudTimeoutError if jobs are still pending."""
        if not ignore_errors:
            for jid, status in zip(jid_list, self.engine.statuses(jid_list)):
                if status.finished and status != JobStatus.DONE:
                    raise self._failure(jid, self.engine.results([jid])[0])
        if pending:
            raise CloudTimeoutError("cloud.join timed out", pending)

    def result(
        self,
        jids: Any,
        timeout: float | None = None,
        ignore_errors: bool = False,
        deadlock_check: bool = True,
    ) -> Any:
        """The return value of a job (or a list for many jobs), waiting for them to finish.

        Raises like ``join``. With ignore_errors, a failed job's slot holds its
        CloudException."""
        jid_list = flatten_jids(jids)
        pending = self._wait(jid_list, timeout, not ignore_errors, deadlock_check, "result")
        blobs = None if pending else self.engine.done_results(jid_list)
        if blobs is not None:
            loads = serialization.loads
            try:
                values = [loads(blob) for blob in blobs]
            except Exception:  # one result does not unpickle: the slow path names its job
                pass
            else:
                return values[0] if is_single(jids) else values
        self._raise_for(jid_list, pending, ignore_errors)
        finished = self.engine.results(jid_list)
        values = [
            self._value(jid, outcome, ignore_errors) for jid, outcome in zip(jid_list, finished)
        ]
        return values[0] if is_single(jids) else values

    def iresult(
        self,
        jids: Any,
        timeout: float | None = None,
        num_in_parallel: int = 10,
        ignore_errors: bool = False,
    ) -> IResult:
        """Iterate over the results in jid order, reading ahead ``num_in_parallel`` results. A
        failed job raises when reached; iteration can go on after it is caught."""
        return IResult(self, flatten_jids(jids), timeout, num_in_parallel, ignore_errors)

    def info(self, jids: Any, info_requested: Any = None) -> dict[int, dict[str, Any]]:
        """``{jid: {field: value}}`` for the requested fields (default stdout, stderr, status,
        runtime; 'all' for every field).

        Unknown field names are left out of the answer, as PiCloud ignored them; group names
        (``memory``, ``cputime``, ``cpu_percentage``, ``ports`` and dotted ones such as
        ``memory.max_usage``) are kept, with None. Raises TypeError for bad jids (checked
        first) or an ``info_requested`` that is not a str or a list of str."""
        jid_list = flatten_jids(jids)
        return self.engine.info(jid_list, _info_fields(info_requested))

    # --- changing -----------------------------------------------------------------------------
    def kill(self, jids: Any = None) -> None:
        """Kill unfinished jobs; with no argument, every job of this connection."""
        if jids is None:
            self.engine.kill(None)
            return
        jid_list = flatten_jids(jids)
        if jid_list:
            self.engine.kill(jid_list)

    def delete(self, jids: Any) -> None:
        """Forget finished jobs (their results, output and info)."""
        self.engine.delete(flatten_jids(jids))

    # --- helpers ------------------------------------------------------------------------------
    def _failure(self, jid: int, outcome: Finished) -> CloudException:
        if outcome.status == JobStatus.STALLED:
            return DependencyFailed(outcome.exception, jid)
        if outcome.status == JobStatus.KILLED:
            return CloudException(outcome.exception or "Killed", jid, status="killed")
        return CloudException(outcome.exception, jid, status=outcome.status.value)

    def _value(self, jid: int, outcome: Finished, ignore_errors: bool) -> Any:
        if outcome.status != JobStatus.DONE:
            return self._failure(jid, outcome)
        try:
            return serialization.loads(outcome.result)  # type: ignore[arg-type]
        except Exception as exc:
            error = CloudException(
                f"Could not unpickle the job's result: {type(exc).__name__}: {exc}",
                jid,
                status="done",
            )
            if ignore_errors:
                return error
            raise error from exc


def _dumps_arguments(args: tuple, kwargs: dict, mode: int, prefix: str) -> bytes:
    """Pickle (args, kwargs); on failure name the argument and the path inside it."""
    try:
        return serialization.dumps((args, kwargs), mode)
    except Exception:
        pass
    for position, value in enumerate(args, start=1):
        serialization.dumps_labelled(value, f"{prefix}argument {position}", mode)
    for name, value in kwargs.items():
        serialization.dumps_labelled(value, f"{prefix}keyword argument {name!r}", mode)
    return serialization.dumps_labelled((args, kwargs), f"{prefix}arguments", mode)


_NO_KWARGS: dict[str, Any] = {}


def _dumps_rows(rows: Iterable[Any], single: bool, mode: int) -> list[bytes]:
    """Pickle each map row as (args, {}); a failure names the row, argument and path."""
    dumps = serialization.dumps
    out: list[bytes] = []
    append = out.append
    plain, fast_dumps = serialization.PLAIN_SCALARS, pickle.dumps
    for row in rows:
        if single and type(row) in plain:  # identical bytes to cloudpickle's, 3x faster
            append(fast_dumps(((row,), _NO_KWARGS), serialization.PROTOCOL))
            continue
        args = (row,) if single else row
        try:
            append(dumps((args, _NO_KWARGS), mode))
        except Exception:
            append(_dumps_arguments(args, _NO_KWARGS, mode, f"map item {len(out)} -> "))
    return out


def _info_fields(requested: Any) -> Sequence[str]:
    """The fields to read: the default for None or an empty request (PiCloud's test), every
    field for 'all', else the known and group names among ``requested`` (others are dropped)."""
    if not requested:
        return DEFAULT_INFO_FIELDS
    if isinstance(requested, str):
        requested = [requested]
    if not isinstance(requested, (list, tuple)) or not all(isinstance(f, str) for f in requested):
        raise InvalidOptionTypeError(
            f"info_requested must be a str or a list of str, got {requested!r}"
        )
    if "all" in requested:
        return ALL_INFO_FIELDS
    return [f for f in requested if f in ALL_INFO_FIELDS or f.split(".")[0] in _INFO_GROUPS]


def _check_size(submission: Submission) -> None:
    """CloudException when the function or a job's arguments pickle larger than
    ``max_transmit_data`` (nothing is queued then)."""
    limit = config.current().max_transmit_data
    if len(submission.func_blob) > limit:
        _too_large(f"the function {submission.func_name}", len(submission.func_blob), limit)
    blobs = submission.args_blobs
    if not blobs or max(map(len, blobs)) <= limit:
        return
    for row, blob in enumerate(blobs):
        if len(blob) > limit:
            where = "the arguments" if len(blobs) == 1 else f"map row {row}"
            _too_large(where, len(blob), limit)


def _too_large(what: str, size: int, limit: int) -> None:
    raise CloudException(
        f"{what} pickled to {size:,} bytes, more than max_transmit_data ({limit:,} bytes): "
        "pass big data through cloud.files, or raise cloud.config.max_transmit_data"
    )


def _after_fork_in_child() -> None:
    """A forked worker must not use its parent's engine threads: open fresh ones if needed."""
    for cloud in list(_clouds):
        cloud._forget_after_fork()


def _close_all_at_exit() -> None:
    """Close every cloud before multiprocessing's own exit handler runs (atexit is last-in,
    first-out, and multiprocessing.util, imported above, registered its handler first): it would
    join the local workers while the collector forks replacements for them."""
    for cloud in list(_clouds):
        cloud.close()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)
