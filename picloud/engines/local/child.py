"""The local engine's worker process: receives chunks of jobs over a pipe, runs them, reports."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import OrderedDict
from multiprocessing.connection import Connection
from typing import Any

from picloud import runtime, serialization
from picloud.accounting import Meter, Usage
from picloud.engines.local.output import JobStream
from picloud.engines.local.parent import ParentLink
from picloud.exceptions import KILLED_BY_USER, JobKilled
from picloud.execution import Outcome, remote_traceback, run_job
from picloud.jobs import JobStatus
from picloud.options import WireOptions

#: Send finished outcomes at least this often while a chunk runs (seconds).
FLUSH_INTERVAL = 0.005
#: Functions kept unpickled, by their pickled bytes.
FUNCTION_CACHE_SIZE = 64

# Slots of the shared array a worker and the engine both see.
# CURRENT: the jid running now (0 = none); LAST_STARTED: the last jid of this chunk that
# started (kept after it ends, until its chunk is reported done).
CURRENT, STARTED, KILL_TARGET, KILL_REASON, CONTROL, LAST_STARTED = range(6)
SLOT_SIZE = 6
REASON_USER, REASON_MAX_RUNTIME = 1, 2


class _Child:
    def __init__(self, conn: Connection, slot: Any, outdir: str | None) -> None:
        self.conn = conn
        self.slot = slot
        self.outdir = outdir
        self.functions: OrderedDict[bytes, Any] = OrderedDict()
        self.skip: set[int] = set()
        self.control_seen = 0.0
        self.stopping = False
        self.options = WireOptions()
        self.streams: tuple[JobStream, ...] = ()
        self.meter = Meter()

    def on_sigint(self, signum: int, frame: Any) -> None:
        """Raise JobKilled in the running job if the engine asked to kill exactly this job."""
        slot = self.slot
        target = slot[KILL_TARGET]
        if target and target == slot[CURRENT] and runtime.job.jid == int(target):
            if slot[KILL_REASON] == REASON_MAX_RUNTIME:
                raise JobKilled(
                    f"Job exceeded its _max_runtime of {self.options.max_runtime} minute(s)"
                )
            raise JobKilled(KILLED_BY_USER)

    def serve(self) -> None:
        while not self.stopping:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                return
            if message[0] == "run":
                if not self.run_chunk(*message[1:]):
                    return
            else:
                self.control(message)

    def control(self, message: tuple) -> None:
        if message[0] == "skip":
            self.skip.update(message[1])
        elif message[0] == "stop":
            self.stopping = True

    def drain_control(self) -> None:
        """Read kill notices the engine sent while this chunk runs."""
        self.control_seen = self.slot[CONTROL]
        while self.conn.poll():
            self.control(self.conn.recv())

    def function(self, blob: bytes) -> Any:
        func = self.functions.get(blob)
        if func is None:
            func = serialization.loads(blob)
            self.functions[blob] = func
            if len(self.functions) > FUNCTION_CACHE_SIZE:
                self.functions.popitem(last=False)
        else:
            self.functions.move_to_end(blob)
        return func

    def run_chunk(self, func_blob: bytes, options: WireOptions, items: list) -> bool:
        """Run one chunk; return False when this process must exit afterwards."""
        self.options = options
        slot = self.slot
        report = _Report(self.conn)
        try:
            func = self.function(func_blob)
        except Exception:
            text = "Could not depickle the job's function:\n" + remote_traceback()
            for jid, _ in items:
                report.add(Outcome(jid, JobStatus.ERROR.value, None, text, time.time(), 0.0), None)
            report.send(chunk_done=True, exiting=False)
            return True
        exiting = False
        slot[LAST_STARTED] = 0
        for position, (jid, args_blob) in enumerate(items):
            # say it starts before looking for kills: a kill sent from now on sees it running
            # (and interrupts it), one sent before is read here (and skips it)
            slot[CURRENT] = slot[LAST_STARTED] = jid
            if slot[CONTROL] != self.control_seen:
                self.drain_control()
            if jid in self.skip:  # killed: said so, for a kill that crossed its start
                slot[CURRENT] = 0
                report.add(
                    Outcome(jid, _KILLED, None, KILLED_BY_USER, time.time(), 0.0),
                    None,
                )
                continue
            outcome, used = self.run_one(jid, func, args_blob, options, position > 0)
            report.add(outcome, used)
            exiting = options.kill_process or outcome.status == _KILLED
            if exiting:
                break
            if report.due():
                report.send(chunk_done=False, exiting=False)
        report.send(chunk_done=True, exiting=exiting)
        self.skip.clear()
        return not exiting

    def run_one(
        self, jid: int, func: Any, args_blob: bytes, options: WireOptions, follows: bool
    ) -> tuple[Outcome, Usage | None]:
        """How the job ended, and what it used (None when a kill cut the measure short);
        ``follows``: it is not its chunk's first (see Meter.start)."""
        slot, streams = self.slot, self.streams
        slot[STARTED] = time.time()
        for stream in streams:
            stream.begin(jid)
        meter = self.meter
        meter.start(follows)
        try:
            outcome = run_job(jid, func, args_blob, options)
            return outcome, meter.stop(outcome.runtime)
        except JobKilled:  # the kill landed just after the function returned
            since, text = slot[STARTED], KILLED_BY_USER
            killed = Outcome(jid, _KILLED, None, text, since, time.time() - since)
            return killed, None
        finally:
            slot[CURRENT] = 0
            for stream in streams:
                stream.end()


class _Report:
    """Outcomes on their way to the engine: done jobs as columns (cheap to pickle), the rest
    as Outcome tuples. Sent at least every FLUSH_INTERVAL while a chunk runs."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.last_sent = time.monotonic()
        self._reset()

    def _reset(self) -> None:
        self.jids: list[int] = []
        self.results: list[bytes | None] = []
        self.started: list[float] = []
        self.runtimes: list[float] = []
        #: what each used, as three columns of plain numbers (a Usage per job would cost
        #: more to pickle and unpickle than a trivial job costs to run)
        self.rss: list[int] = []
        self.user: list[float] = []
        self.system: list[float] = []
        self.others: list[Outcome] = []

    def add(self, outcome: Outcome, used: Usage | None) -> None:
        """``outcome`` and what the job used (kept apart: a done job's go as columns)."""
        if outcome.status == _DONE and outcome.profile is None and used is not None:
            self.jids.append(outcome.jid)
            self.results.append(outcome.result)
            self.started.append(outcome.started)
            self.runtimes.append(outcome.runtime)
            self.rss.append(used.max_rss)
            self.user.append(used.user)
            self.system.append(used.system)
        else:
            self.others.append(outcome if used is None else outcome._replace(usage=used))

    def due(self) -> bool:
        return time.monotonic() - self.last_sent > FLUSH_INTERVAL

    def send(self, chunk_done: bool, exiting: bool) -> None:
        done = (
            self.jids,
            self.results,
            self.started,
            self.runtimes,
            self.rss,
            self.user,
            self.system,
        )
        self.conn.send(("out", done, self.others, chunk_done, exiting))
        self._reset()
        self.last_sent = time.monotonic()


_DONE, _KILLED = JobStatus.DONE.value, JobStatus.KILLED.value


def child_main(conn: Connection, slot: Any, outdir: str | None, connection_type: str) -> None:
    """Entry point of a worker process (forked from the engine's process)."""
    runtime.in_worker = True
    child = _Child(conn, slot, outdir)
    runtime.parent = ParentLink(conn, child.control).call
    runtime.parent_type = connection_type
    if outdir:
        child.streams = (JobStream(outdir, "stdout"), JobStream(outdir, "stderr"))
        sys.stdout, sys.stderr = child.streams
    signal.signal(signal.SIGINT, child.on_sigint)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        child.serve()
    finally:
        conn.close()
        os._exit(0)
