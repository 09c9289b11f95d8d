"""``cloud.pool_interface``: multiprocessing.Pool's apply and map functions, each call a job.

Swap ``pool = multiprocessing.Pool()`` for ``from cloud import pool_interface as pool`` and the
calls below work unchanged, on the connection ``cloud`` uses. Not supported, as in PiCloud: a
pool initializer, keyword arguments for the applied function, callbacks for map/map_async, and
close/join/terminate (there is no pool to manage). ``chunksize`` only sets how many results
imap reads ahead. Failed jobs raise CloudException and timeouts CloudTimeoutError (not
multiprocessing.TimeoutError). imap_unordered yields in order, like imap."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from picloud import api
from picloud.exceptions import CloudTimeoutError
from picloud.jids import flatten_jids
from picloud.jobs import finished_statuses

__all__ = ["apply", "apply_async", "map", "map_async", "imap", "imap_unordered", "AsyncResult"]

#: Results imap reads ahead when no chunksize is given (cloud.iresult's default).
IMAP_READ_AHEAD = 10


class AsyncResult:
    """The pending result of apply_async (one jid) or map_async (many), like
    multiprocessing.pool.AsyncResult."""

    def __init__(self, jid: Any, callback_finished: threading.Event | None = None) -> None:
        """``callback_finished``: set once apply_async's callback has run (or the job failed);
        the result counts as ready only then, as in multiprocessing."""
        self.jid = jid
        self._callback_finished = callback_finished

    def __repr__(self) -> str:
        return f"<AsyncResult jid={self.jid!r}>"

    def get(self, timeout: float | None = None) -> Any:
        """The result, waiting at most ``timeout`` seconds (then CloudTimeoutError). A failed
        job raises its CloudException."""
        deadline = None if timeout is None else time.monotonic() + timeout
        value = api.result(self.jid, timeout=timeout)
        if not self._await_callback(deadline):
            raise CloudTimeoutError("the result's callback is still running", self.jid)
        return value

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the result is ready, or ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            api.join(self.jid, timeout=timeout, ignore_errors=True)
        except CloudTimeoutError:
            return
        self._await_callback(deadline)

    def ready(self) -> bool:
        """True when every job finished (done or failed) and the callback, if any, has run."""
        statuses = api.status(flatten_jids(self.jid))
        finished = all(status in finished_statuses for status in statuses)
        return finished and self._await_callback(time.monotonic())

    def successful(self) -> bool:
        """True when every job finished done. Raises ValueError if the result is not ready."""
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return all(status == "done" for status in api.status(flatten_jids(self.jid)))

    def _await_callback(self, deadline: float | None) -> bool:
        if self._callback_finished is None:
            return True
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._callback_finished.wait(timeout)


def apply(func: Callable[..., Any], args: Iterable[Any] = ()) -> Any:
    """``func(*args)`` as a job: wait for it and return its result."""
    return api.result(api.call(func, *args))


def apply_async(
    func: Callable[..., Any],
    args: Iterable[Any] = (),
    callback: Callable[[Any], Any] | None = None,
) -> AsyncResult:
    """``func(*args)`` as a job, without waiting. ``callback(result)`` runs in this process
    when the job is done (not when it fails)."""
    if callback is None:
        return AsyncResult(api.call(func, *args))
    finished = threading.Event()

    def on_done(jid: int) -> None:
        try:
            callback(api.result(jid))
        finally:
            finished.set()

    def on_error(jid: int) -> None:
        finished.set()

    jid = api.call(func, *args, _callback=on_done, _callback_on_error=on_error)
    return AsyncResult(jid, finished)


def map(func: Callable[[Any], Any], iterable: Iterable[Any], chunksize: int | None = None) -> list:
    """``[func(x) for x in iterable]``, one job per item; ``chunksize`` is not used."""
    return list(api.result(api.map(func, iterable)))


def map_async(
    func: Callable[[Any], Any], iterable: Iterable[Any], chunksize: int | None = None
) -> AsyncResult:
    """map without waiting: ``get()`` returns the list. ``chunksize`` is not used."""
    return AsyncResult(api.map(func, iterable))


def imap(
    func: Callable[[Any], Any], iterable: Iterable[Any], chunksize: int | None = None
) -> Iterator[Any]:
    """Iterate over ``func(x)`` for each item, in order, as results arrive; ``chunksize``
    results are read ahead (default 10)."""
    return api.iresult(api.map(func, iterable), num_in_parallel=chunksize or IMAP_READ_AHEAD)


def imap_unordered(
    func: Callable[[Any], Any], iterable: Iterable[Any], chunksize: int | None = None
) -> Iterator[Any]:
    """Same as imap (in order)."""
    return imap(func, iterable, chunksize)
