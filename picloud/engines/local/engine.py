"""LocalEngine: jobs on a pool of forked worker processes of this machine (simulator, cloud.mp).

The submitting thread hands jobs straight to an idle worker; one collector thread reads what
workers report, hands out more work, enforces ``_max_runtime`` and replaces dead workers."""

from __future__ import annotations

import os
import select
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from picloud import defaults
from picloud.engines.base import Finished, Submission, Watcher
from picloud.engines.local.child import REASON_MAX_RUNTIME, REASON_USER
from picloud.engines.local.info import job_info
from picloud.engines.local.output import remove_output
from picloud.engines.local.parent import answer
from picloud.engines.local.table import (
    DONE,
    FINISHED_CODES,
    KILLED,
    PROCESSING,
    QUEUED,
    SETTLED_CODES,
    STATUSES,
    WAITING,
    Batch,
    JobTable,
)
from picloud.engines.local.workers import WorkerProcess
from picloud.exceptions import KILLED_BY_USER, CloudException
from picloud.jids import describe_jids
from picloud.jobs import JobStatus

_STATUS_CODE = {status.value: code for code, status in enumerate(STATUSES)}
#: How often the collector checks run times and kill deadlines while either matters (s).
TICK = 0.1


class LocalEngine:
    """The Engine protocol on local processes."""

    def __init__(
        self,
        num_procs: int,
        connection_type: str = "simulation",
        redirect_output: bool = True,
    ) -> None:
        self.connection_type = connection_type
        self.num_procs = max(1, num_procs)
        self.redirect_output = redirect_output
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._table = JobTable()
        self._outdir: str | None = None
        self._workers: list[WorkerProcess] = []
        self._idle: list[WorkerProcess] = []
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        self._started = False
        self._collector: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    def _start(self) -> None:
        """Fork the workers and start the collector (on first use; lock held)."""
        if self._closed:
            raise CloudException("this local engine is closed")
        self._outdir = tempfile.mkdtemp(prefix="picloud-jobs-") if self.redirect_output else None
        for _ in range(self.num_procs):
            self._add_worker()
        self._collector = threading.Thread(
            target=self._collect, name="picloud-local-collector", daemon=True
        )
        self._collector.start()
        self._started = True

    def _add_worker(self) -> None:
        worker = WorkerProcess(self._outdir, self.connection_type)
        self._workers.append(worker)
        self._idle.append(worker)

    def close(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            was_started = self._started
            self._changed.notify_all()
        os.write(self._wake_w, b"x")
        if self._collector is not None:
            self._collector.join(timeout=5)
        for worker in self._workers:
            worker.stop()
        if self._outdir:
            shutil.rmtree(self._outdir, ignore_errors=True)
        os.close(self._wake_r)
        os.close(self._wake_w)
        return was_started

    def _wake(self) -> None:
        os.write(self._wake_w, b"x")

    # --- submitting ---------------------------------------------------------------------------
    def submit(self, submission: Submission) -> range:
        with self._lock:
            if not self._started:
                self._start()
            batch = self._table.add(submission)
            self._dispatch()
            fired = self._take_fired()
        self._fire(fired)
        if submission.options.wire.max_runtime is not None:
            self._wake()
        return range(batch.start, batch.stop)

    def _dispatch(self) -> None:
        """Give queued jobs to idle workers (lock held)."""
        idle, table = self._idle, self._table
        while idle and table.ready:
            chunk = table.take_chunk(self.num_procs)
            if chunk is None:
                return
            idle.pop().run(*chunk)

    # --- reading ------------------------------------------------------------------------------
    def statuses(self, jids: Sequence[int]) -> list[JobStatus]:
        with self._lock:
            return [STATUSES[code] for code in self._codes(jids)]

    def _codes(self, jids: Sequence[int]) -> list[int]:
        """Status codes; a queued job a worker has started is processing (lock held)."""
        code = self._table.code
        out = [code(jid) for jid in jids]
        busy = [w for w in self._workers if w.busy]
        if busy:
            for position, jid in enumerate(jids):
                if out[position] == QUEUED and any(w.has_started(jid) for w in busy):
                    out[position] = PROCESSING
        return out

    def _whole_batch(self, jids: Sequence[int]) -> Batch | None:
        """The batch when ``jids`` is exactly one map's range (lock held)."""
        if not isinstance(jids, range) or jids.step != 1 or not jids:
            return None
        batch, _ = self._table.locate(jids[0])
        return batch if batch.start == jids[0] and batch.stop == jids.stop else None

    def done_results(self, jids: Sequence[int]) -> list[bytes] | None:
        with self._lock:
            batch = self._whole_batch(jids)
            if batch is None or batch.status.count(DONE) != batch.n:
                return None
            return batch.results[:]  # type: ignore[return-value]

    def wait(self, jids: Sequence[int], timeout: float | None, stop_on_error: bool) -> list[int]:
        deadline = None if timeout is None else time.monotonic() + timeout
        position = 0
        with self._lock:
            batch = self._whole_batch(jids)
            while batch is not None and batch.unfinished and not self._closed:
                # a whole map: wait on its counter instead of job by job
                if stop_on_error and batch.exceptions:
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._changed.wait(remaining)
            if batch is not None and batch.status.count(DONE) == batch.n:
                return []
            code = self._table.code
            for jid in jids:  # unknown jids fail before any waiting
                code(jid)
            while True:
                while position < len(jids):
                    current = code(jids[position])
                    if current not in FINISHED_CODES:
                        break
                    if stop_on_error and current != STATUSES.index(JobStatus.DONE):
                        return [j for j in jids[position:] if code(j) not in FINISHED_CODES]
                    position += 1
                else:
                    return []
                if self._closed:
                    raise CloudException("the local engine was closed while jobs were awaited")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return [j for j in jids[position:] if code(j) not in FINISHED_CODES]
                self._changed.wait(remaining)

    def results(self, jids: Sequence[int]) -> list[Finished]:
        out = []
        with self._lock:
            locate = self._table.locate
            for jid in jids:
                batch, index = locate(jid)
                out.append(
                    Finished(
                        STATUSES[batch.status[index]],
                        batch.results[index],
                        batch.exceptions.get(index),
                    )
                )
        return out

    def info(self, jids: Sequence[int], fields: Sequence[str]) -> dict[int, dict[str, Any]]:
        with self._lock:
            codes = self._codes(jids)
            running = {w.current: w for w in self._workers if w.current}
            return {
                jid: job_info(
                    self._table, jid, STATUSES[code], running.get(jid), fields, self._outdir
                )
                for jid, code in zip(jids, codes)
            }

    def watch(self, jid: int, watcher: Watcher) -> None:
        with self._lock:
            registered = self._table.watch(jid, watcher)
            status = STATUSES[self._table.code(jid)]
        if not registered:
            watcher(jid, status)

    def connection_info(self) -> dict[str, Any]:
        return {
            "opened": self._started and not self._closed,
            "connection_type": self.connection_type,
            "num_procs": self.num_procs,
        }

    # --- killing and deleting -----------------------------------------------------------------
    def kill(self, jids: Sequence[int] | None) -> None:
        with self._lock:
            table = self._table
            targets = table.unfinished_jids() if jids is None else jids
            for jid in targets:
                table.locate(jid)
            interrupted = [jid for jid in targets if self._kill_one(jid)]
            fired = self._take_fired()
            self._dispatch()
        self._fire(fired)
        if interrupted:
            self._wake()
            self.wait(interrupted, defaults.KILL_GRACE_SECONDS + 3, False)

    def _kill_one(self, jid: int) -> bool:
        """Kill one job (lock held); True if it is running and was interrupted."""
        batch, index = self._table.locate(jid)
        if batch.status[index] not in (WAITING, QUEUED):
            return False
        holder = next((w for w in self._workers if jid in w.assigned), None)
        if holder is not None and holder.current != jid:
            holder.skip([jid])  # its report, if it ran already, is ignored: killed wins
        if holder is not None and holder.current == jid:  # running, or started as we skipped
            if holder.kill_deadline is None:
                deadline = time.monotonic() + defaults.KILL_GRACE_SECONDS
                holder.interrupt(jid, REASON_USER, deadline)
            return True
        self._table.finish(batch, index, KILLED)
        return False

    def delete(self, jids: Sequence[int]) -> None:
        """Kill the unfinished jobs among ``jids`` (as PiCloud's simulator did), then forget
        them all. NoSuchJobError, with nothing changed, for an unknown jid."""
        self.kill(jids)
        with self._lock:
            codes = self._codes(jids)
            unfinished = [j for j, c in zip(jids, codes) if c not in FINISHED_CODES]
            if unfinished:  # kill() waited for them: their processes did not stop
                raise CloudException(
                    f"jobs {describe_jids(unfinished)} did not stop when killed; "
                    "nothing was deleted"
                )
            self._table.delete(jids)
        if self._outdir:
            for jid in jids:
                remove_output(self._outdir, jid)

    # --- the collector thread -----------------------------------------------------------------
    def _collect(self) -> None:
        polled: tuple[Connection, ...] = ()
        poller = select.poll()
        by_fd: dict[int, Any] = {}
        while True:
            conns = tuple(w.conn for w in self._workers)
            if conns != polled:  # a worker was replaced: poll the new set
                polled, poller = conns, select.poll()
                by_fd = {self._wake_r: self._wake_r, **{c.fileno(): c for c in conns}}
                for fd in by_fd:
                    poller.register(fd, select.POLLIN)
            timed = any(w.kill_deadline is not None or (w.busy and w.timed) for w in self._workers)
            # one poll object kept (multiprocessing's wait() builds a selector each time: 7 us)
            ready = [by_fd[fd] for fd, _ in poller.poll(TICK * 1000 if timed else None)]
            with self._lock:
                if self._closed:
                    return
                for conn in ready:
                    if conn == self._wake_r:
                        os.read(self._wake_r, 4096)
                    else:
                        self._receive(conn)
                self._check_run_times()
                self._dispatch()
                self._changed.notify_all()
                fired = self._take_fired()
            self._fire(fired)

    def _receive(self, conn: Connection) -> None:
        worker = next(w for w in self._workers if w.conn is conn)
        try:
            while conn.poll():
                message = conn.recv()
                if message[0] == "call":  # a job's own cloud call (picloud.engines.local.parent)
                    answer(self, worker.send, message)
                    continue
                _, done, outcomes, chunk_done, exiting = message
                self._record_done(worker, done)
                self._record(worker, outcomes)
                if exiting:
                    worker.retiring = True
                elif chunk_done:
                    worker.chunk_done()
                    self._idle.append(worker)
        except (EOFError, OSError):
            pass
        else:
            return
        # The worker is gone. Replace it outside the except block: a process forked inside one
        # inherits the exception as the context of every error its jobs raise.
        self._replace(worker)

    def _record_done(self, worker: WorkerProcess, done: tuple) -> None:
        """Record jobs that returned a value, sent as columns (jids, results, starts, times,
        and what each used: peak memory, user and system seconds)."""
        if self._record_run(worker, done):
            return
        table, pop, pid = self._table, worker.assigned.pop, worker.pid
        for jid, result, started, runtime, rss, user, system in zip(*done):
            batch, index = pop(jid)
            if batch.status[index] in SETTLED_CODES:
                continue
            batch.started[index] = started
            batch.runtime[index] = runtime
            batch.usage[index] = (rss, user, system)
            batch.workers[index] = pid
            batch.results[index] = result
            table.finish(batch, index, DONE)

    def _record_run(self, worker: WorkerProcess, done: tuple) -> bool:
        """``_record_done`` a slice at a time when ``done`` is one run of jids of one batch,
        none settled (the usual report: a chunk's jobs in order); False if it is not."""
        jids, results, started, runtimes, rss, user, system = done
        assigned = worker.assigned
        if not jids or jids[-1] - jids[0] != len(jids) - 1:
            return False
        (batch, begin), (last_batch, _) = assigned[jids[0]], assigned[jids[-1]]
        end = begin + len(jids)
        if last_batch is not batch or max(batch.status[begin:end]) >= DONE:
            return False
        for jid in jids:
            del assigned[jid]
        batch.started[begin:end] = started
        batch.runtime[begin:end] = runtimes
        batch.usage[begin:end] = zip(rss, user, system)
        batch.results[begin:end] = results
        batch.workers.update(dict.fromkeys(range(begin, end), worker.pid))
        self._table.finish_done(batch, begin, end)
        return True

    def _record(self, worker: WorkerProcess, outcomes: list) -> None:
        table, assigned = self._table, worker.assigned
        for outcome in outcomes:
            batch, index = assigned.pop(outcome.jid)
            if outcome.jid == worker.interrupted and outcome.status == JobStatus.KILLED.value:
                worker.kill_deadline = None  # it stopped (or skipped it): no SIGKILL to come
            if batch.status[index] in SETTLED_CODES:
                continue
            batch.started[index] = outcome.started
            batch.runtime[index] = outcome.runtime
            batch.usage[index] = outcome.usage
            batch.workers[index] = worker.pid
            if outcome.profile is not None:
                batch.profiles[index] = outcome.profile
            batch.results[index] = outcome.result
            table.finish(batch, index, _STATUS_CODE[outcome.status], outcome.exception)

    def _replace(self, worker: WorkerProcess) -> None:
        """A worker's process ended: settle its jobs and start another (lock held)."""
        self._workers.remove(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        current = worker.current
        how = worker.exit_description()
        worker.conn.close()
        requeue: dict[int, tuple[Batch, list[int]]] = {}
        for jid, (batch, index) in worker.assigned.items():
            if batch.status[index] in SETTLED_CODES:
                continue
            if jid == current and worker.kill_deadline is not None:
                self._table.finish(
                    batch,
                    index,
                    KILLED,
                    f"{KILLED_BY_USER} (its process did not stop when interrupted and was killed)",
                )
            elif jid == current:
                batch.workers[index] = worker.pid
                self._table.finish(
                    batch,
                    index,
                    STATUSES.index(JobStatus.ERROR),
                    f"The worker process running this job (pid {worker.pid}) {how}",
                )
            else:
                requeue.setdefault(batch.start, (batch, []))[1].append(index)
        for batch, indices in requeue.values():
            self._table.requeue(batch, indices)
        if not self._closed:
            self._add_worker()

    def _check_run_times(self) -> None:
        """Interrupt jobs past ``_max_runtime``; SIGKILL workers that ignore a kill."""
        now = time.monotonic()
        wall = time.time()
        for worker in self._workers:
            if worker.kill_deadline is not None:
                if now > worker.kill_deadline:
                    worker.force_kill()
                continue
            jid = worker.current
            if not (worker.timed and jid and jid in worker.assigned):
                continue
            batch, _ = worker.assigned[jid]
            limit = batch.options.wire.max_runtime
            if limit is not None and wall - worker.started > limit * 60:
                deadline = now + defaults.KILL_GRACE_SECONDS
                worker.interrupt(jid, REASON_MAX_RUNTIME, deadline)

    # --- callbacks ----------------------------------------------------------------------------
    def _take_fired(self) -> list:
        fired, self._table.fired = self._table.fired, []
        return fired

    @staticmethod
    def _fire(fired: list) -> None:
        for watchers, jid, status in fired:
            for watcher in watchers:
                watcher(jid, status)
