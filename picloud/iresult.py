"""The iterator ``cloud.iresult`` returns: results in jid order, read ahead in batches."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from picloud.exceptions import CloudTimeoutError
from picloud.jobs import JobStatus

if TYPE_CHECKING:
    from picloud.client import Cloud

MAX_READ_AHEAD = 1024


class IResult:
    """Yields each job's result in order. A failed job raises CloudException when reached (or
    is yielded with ignore_errors); catching it and calling next() again goes on."""

    def __init__(
        self,
        cloud: Cloud,
        jids: Sequence[int],
        timeout: float | None,
        num_in_parallel: int,
        ignore_errors: bool,
    ) -> None:
        self._cloud = cloud
        self._jids = jids
        self._position = 0
        self._timeout = timeout
        self._read_ahead = (
            num_in_parallel if 1 <= num_in_parallel <= MAX_READ_AHEAD else (MAX_READ_AHEAD)
        )
        self._ignore_errors = ignore_errors
        self._buffer: deque[tuple[int, Any]] = deque()

    def __iter__(self) -> IResult:
        return self

    def __len__(self) -> int:
        return len(self._jids)

    def __next__(self) -> Any:
        if not self._buffer:
            self._fill()
        jid, outcome = self._buffer.popleft()
        if outcome.status != JobStatus.DONE and not self._ignore_errors:
            raise self._cloud._failure(jid, outcome)
        return self._cloud._value(jid, outcome, self._ignore_errors)

    def _fill(self) -> None:
        """Wait for the next job, then take every finished result in the read-ahead window."""
        if self._position >= len(self._jids):
            raise StopIteration
        engine = self._cloud.engine
        head = self._jids[self._position]
        if engine.wait([head], self._timeout, False):
            raise CloudTimeoutError("__iresult iterator timed out", head)
        window = self._jids[self._position : self._position + self._read_ahead]
        for jid, outcome in zip(window, engine.results(window)):
            if not outcome.status.finished:
                break
            self._buffer.append((jid, outcome))
        self._position += len(self._buffer)
