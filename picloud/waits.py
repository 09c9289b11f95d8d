"""Waiting on jobs a slice at a time: what a job's relayed waits do (a supervisor is never
blocked for long) and what lets a waiting job notice that it waits in vain (PiCloud's
dead-lock check)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from picloud.jobs import JobStatus

#: (jids, seconds) -> the jids still unfinished after waiting at most that long.
WaitOnce = Callable[[Sequence[int], float], list[int]]
Statuses = Callable[[Sequence[int]], list[JobStatus]]


def in_slices(
    wait_once: WaitOnce,
    statuses: Statuses,
    jids: Sequence[int],
    timeout: float | None,
    stop_on_error: bool,
    slice_seconds: float,
    after_slice: Callable[[list[int]], None] | None = None,
) -> list[int]:
    """Wait until ``jids`` finish (or, with ``stop_on_error``, one failed) or ``timeout``
    passes, ``slice_seconds`` at a time, calling ``after_slice(pending)`` between slices (it
    may raise); return the jids still unfinished."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pending = list(jids)
    while True:
        left = slice_seconds if deadline is None else deadline - time.monotonic()
        still = wait_once(pending, max(0.0, min(slice_seconds, left)))
        if not still or (stop_on_error and _failed_among(statuses, pending, still)):
            return still
        if deadline is not None and time.monotonic() >= deadline:
            return still
        pending = still
        if after_slice is not None:
            after_slice(pending)


def _failed_among(statuses: Statuses, before: Sequence[int], still: list[int]) -> bool:
    """Whether a job of ``before`` that is no longer pending failed."""
    left = set(still)
    ended = [j for j in before if j not in left]
    return bool(ended) and any(s != JobStatus.DONE for s in statuses(ended))


class DeadlockCheck:
    """Raises (``after_slice``) once the awaited jobs all stayed queued ``patience`` seconds:
    from inside a job, that means the workers that would run them are all taken, most likely
    by jobs waiting like this one."""

    def __init__(
        self, statuses: Statuses, patience: float, error: Callable[[list[int]], Exception]
    ):
        self._statuses = statuses
        self._patience = patience
        self._error = error
        self._since: float | None = None

    def __call__(self, pending: list[int]) -> None:
        if not all(s == JobStatus.QUEUED for s in self._statuses(pending)):
            self._since = None
            return
        now = time.monotonic()
        if self._since is None:
            self._since = now
        elif now - self._since >= self._patience:
            raise self._error(pending)
