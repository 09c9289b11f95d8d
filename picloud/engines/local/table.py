"""The local engine's job table: batches of jobs as arrays, dependencies, the ready queue.

Not thread-safe: the engine calls it with its lock held."""

from __future__ import annotations

import bisect
import heapq
import itertools
import time
from collections.abc import Iterable

from picloud.engines.base import Submission, Watcher
from picloud.exceptions import CloudException, NoSuchJobError
from picloud.jobs import FAILED, JobStatus

STATUSES = list(JobStatus)
WAITING, QUEUED, PROCESSING, DONE, ERROR, KILLED, STALLED = range(7)
DELETED = 7
FINISHED_CODES = frozenset({DONE, ERROR, KILLED, STALLED})
#: Codes a worker's late report must not change: finished, or deleted since.
SETTLED_CODES = FINISHED_CODES | {DELETED}
FAILED_CODES = frozenset(STATUSES.index(s) for s in FAILED)
#: Most jobs sent to a worker in one message.
MAX_CHUNK = 1000


class Batch:
    """The jobs of one submission: jids ``start .. start+n-1``, per-job fields as arrays."""

    __slots__ = (
        "start",
        "n",
        "submission",
        "options",
        "created",
        "status",
        "results",
        "exceptions",
        "started",
        "finished",
        "runtime",
        "usage",
        "workers",
        "profiles",
        "unfinished",
        "cursor",
        "waiting_on",
    )

    def __init__(
        self, start: int, submission: Submission, waiting_on: set[int], waiting: bool
    ) -> None:
        n = len(submission.args_blobs)
        self.start = start
        self.n = n
        self.submission = submission
        self.options = submission.options
        self.created = time.time()
        self.status = bytearray([WAITING if waiting else QUEUED]) * n
        self.results: list[bytes | None] = [None] * n
        self.exceptions: dict[int, str] = {}
        self.started = [0.0] * n
        self.finished = [0.0] * n
        self.runtime = [0.0] * n
        #: what each finished job used: a Usage, or its three values as a plain tuple
        self.usage: list[tuple[int, float, float] | None] = [None] * n
        self.workers: dict[int, int] = {}
        self.profiles: dict[int, str] = {}
        self.unfinished = n
        self.cursor = 0
        self.waiting_on = waiting_on

    @property
    def stop(self) -> int:
        return self.start + self.n


class JobTable:
    """Every job of one local engine."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.starts: list[int] = []
        self.next_jid = 1
        self._last: Batch | None = None
        self.ready: list[tuple[int, int, Batch, list[int] | None]] = []
        self._seq = itertools.count()
        self.dependents: dict[int, list[Batch]] = {}
        self.watchers: dict[int, list[Watcher]] = {}
        #: (watchers, jid, status) to call once the lock is released
        self.fired: list[tuple[list[Watcher], int, JobStatus]] = []

    # --- finding jobs -------------------------------------------------------------------------
    def locate(self, jid: int) -> tuple[Batch, int]:
        """The batch holding ``jid`` and its index there; NoSuchJobError if none (or deleted)."""
        batch = self._last
        if batch is None or not batch.start <= jid < batch.stop:
            pos = bisect.bisect_right(self.starts, jid) - 1
            if pos < 0 or jid >= self.batches[pos].stop:
                raise NoSuchJobError(jid)
            batch = self._last = self.batches[pos]
        index = jid - batch.start
        if batch.status[index] == DELETED:
            raise NoSuchJobError(jid)
        return batch, index

    def code(self, jid: int) -> int:
        batch, index = self.locate(jid)
        return batch.status[index]

    def unfinished_jids(self) -> list[int]:
        return [
            b.start + i
            for b in self.batches
            if b.unfinished
            for i, code in enumerate(b.status)
            if code not in SETTLED_CODES
        ]

    # --- adding jobs --------------------------------------------------------------------------
    def add(self, submission: Submission) -> Batch:
        """Add a submission's jobs: queued, waiting on dependencies, or stalled at once."""
        parents = self._unfinished_parents(submission)
        failed = self._failed_parent(submission)
        start = self.next_jid
        batch = Batch(start, submission, parents, waiting=bool(parents) or failed is not None)
        self.next_jid += batch.n
        self.batches.append(batch)
        self.starts.append(start)
        if failed is not None:
            batch.waiting_on = set()
            self._stall(batch, failed)
        elif parents:
            for parent in parents:
                self.dependents.setdefault(parent, []).append(batch)
        elif batch.n:
            self._push(batch, None)
        return batch

    def _unfinished_parents(self, submission: Submission) -> set[int]:
        parents = set()
        for jid in submission.options.depends_on:
            try:
                code = self.code(jid)
            except NoSuchJobError:
                raise CloudException(f"This dependency does not exist: job {jid}") from None
            if code not in FINISHED_CODES:
                parents.add(jid)
        return parents

    def _failed_parent(self, submission: Submission) -> tuple[int, int] | None:
        if submission.options.depends_on_errors != "abort":
            return None
        for jid in submission.options.depends_on:
            code = self.code(jid)
            if code in FAILED_CODES:
                return jid, code
        return None

    def _push(self, batch: Batch, indices: list[int] | None) -> None:
        heapq.heappush(self.ready, (batch.options.priority, next(self._seq), batch, indices))

    def requeue(self, batch: Batch, indices: list[int]) -> None:
        """Put jobs a dead worker had been given back in the ready queue."""
        self._push(batch, indices)

    # --- dispatching --------------------------------------------------------------------------
    def take_chunk(self, num_procs: int) -> tuple[Batch, list[int]] | None:
        """The next queued jobs to give one idle worker, highest priority (lowest number) first.

        Chunks shrink as a batch drains (guided self-scheduling), one job if it kills its
        process."""
        ready = self.ready
        while ready:
            _, _, batch, indices = ready[0]
            status = batch.status
            one = batch.options.wire.kill_process
            if indices is not None:
                items = [i for i in indices if status[i] == QUEUED]
                if one and len(items) > 1:
                    ready[0] = (*ready[0][:3], items[1:])
                    return batch, items[:1]
                heapq.heappop(ready)
            else:
                begin, n = batch.cursor, batch.n
                size = 1 if one else max(1, min(MAX_CHUNK, (n - begin) // (2 * num_procs)))
                end = min(n, begin + size)
                items = [i for i in range(begin, end) if status[i] == QUEUED]
                batch.cursor = end
                if end >= n:
                    heapq.heappop(ready)
            if items:
                return batch, items
        return None

    # --- finishing ----------------------------------------------------------------------------
    def finish(self, batch: Batch, index: int, code: int, exception: str | None = None) -> None:
        """Record that a job ended with ``code``; release or stall whatever waited on it."""
        batch.status[index] = code
        batch.finished[index] = time.time()
        if exception is not None:
            batch.exceptions[index] = exception
        batch.unfinished -= 1
        if self.watchers or self.dependents:
            self._ended(batch.start + index, code)

    def finish_done(self, batch: Batch, begin: int, end: int) -> None:
        """``finish`` for jobs ``begin .. end-1`` of ``batch``, all done, none settled."""
        n = end - begin
        batch.status[begin:end] = bytes([DONE]) * n
        batch.finished[begin:end] = [time.time()] * n
        batch.unfinished -= n
        if self.watchers or self.dependents:
            for jid in range(batch.start + begin, batch.start + end):
                self._ended(jid, DONE)

    def _ended(self, jid: int, code: int) -> None:
        """Fire a finished job's watchers; release or stall what waited on it."""
        watchers = self.watchers.pop(jid, None)
        if watchers:
            self.fired.append((watchers, jid, STATUSES[code]))
        for dependent in self.dependents.pop(jid, ()):
            self._parent_finished(dependent, jid, code)

    def _parent_finished(self, batch: Batch, parent: int, code: int) -> None:
        if not batch.waiting_on:
            return  # already stalled or released
        if code in FAILED_CODES and batch.options.depends_on_errors == "abort":
            batch.waiting_on = set()
            self._stall(batch, (parent, code))
            return
        batch.waiting_on.discard(parent)
        if not batch.waiting_on:
            status = batch.status
            for i in range(batch.n):
                if status[i] == WAITING:
                    status[i] = QUEUED
            self._push(batch, None)

    def _stall(self, batch: Batch, failed: tuple[int, int]) -> None:
        parent, code = failed
        message = f"Could not start due to dependency erroring: job {parent} ended {STATUSES[code]}"
        for i in range(batch.n):
            if batch.status[i] == WAITING:
                self.finish(batch, i, STALLED, message)

    # --- deleting -----------------------------------------------------------------------------
    def delete(self, jids: Iterable[int]) -> None:
        for jid in jids:
            batch, index = self.locate(jid)
            batch.status[index] = DELETED
            batch.results[index] = None
            batch.exceptions.pop(index, None)
            batch.profiles.pop(index, None)
        self._drop_deleted_batches()

    def _drop_deleted_batches(self) -> None:
        keep = [b for b in self.batches if b.status.count(DELETED) != b.n]
        if len(keep) != len(self.batches):
            self.batches = keep
            self.starts = [b.start for b in keep]
            self._last = None

    def watch(self, jid: int, watcher: Watcher) -> bool:
        """Register ``watcher``; False if the job has finished already."""
        if self.code(jid) in FINISHED_CODES:
            return False
        self.watchers.setdefault(jid, []).append(watcher)
        return True
