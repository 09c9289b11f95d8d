"""The local engine's handle on one worker process: start it, give it jobs, stop or kill it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from typing import Any

from picloud.engines.local.child import (
    CONTROL,
    CURRENT,
    KILL_REASON,
    KILL_TARGET,
    LAST_STARTED,
    SLOT_SIZE,
    STARTED,
    child_main,
)
from picloud.engines.local.table import Batch
from picloud.options import WireOptions

_context = multiprocessing.get_context("fork")


class WorkerProcess:
    """One forked worker and what the engine has given it."""

    def __init__(self, outdir: str | None, connection_type: str) -> None:
        self.slot: Any = _context.RawArray("d", SLOT_SIZE)
        self.conn, child_conn = _context.Pipe(duplex=True)
        #: sends come from the engine's threads and from the threads answering job calls
        self._send_lock = threading.Lock()
        self.process = _context.Process(
            target=child_main,
            args=(child_conn, self.slot, outdir, connection_type),
            daemon=True,
            name="picloud-local-worker",
        )
        self.process.start()
        child_conn.close()
        self.pid: int = self.process.pid or 0
        #: jid -> (batch, index) of jobs sent and not yet reported
        self.assigned: dict[int, tuple[Batch, int]] = {}
        self.busy = False
        self.retiring = False
        self.timed = False
        self.kill_deadline: float | None = None
        #: the job last interrupted (its killed report ends the deadline)
        self.interrupted = 0

    @property
    def current(self) -> int:
        """The jid this worker is running now (0 = none)."""
        return int(self.slot[CURRENT])

    def has_started(self, jid: int) -> bool:
        """True if job ``jid`` of this worker's chunk has started (it may have ended since,
        unreported): chunks run their jobs in jid order."""
        return jid in self.assigned and jid <= self.slot[LAST_STARTED]

    @property
    def started(self) -> float:
        return float(self.slot[STARTED])

    def run(self, batch: Batch, indices: list[int]) -> None:
        """Send a chunk of jobs of one batch."""
        submission = batch.submission
        start, blobs = batch.start, submission.args_blobs
        items = [(start + i, blobs[i]) for i in indices]
        for i in indices:
            self.assigned[start + i] = (batch, i)
        options: WireOptions = batch.options.wire
        self.timed = options.max_runtime is not None
        self.busy = True
        self.send(("run", submission.func_blob, options, items))

    def send(self, message: tuple) -> None:
        with self._send_lock:
            self.conn.send(message)

    def chunk_done(self) -> None:
        """The worker reported its chunk (jobs it skipped were never reported)."""
        self.assigned.clear()
        self.busy = False

    def skip(self, jids: list[int]) -> None:
        """Tell the worker not to start these jobs of its current chunk."""
        self.send(("skip", jids))
        self.slot[CONTROL] += 1

    def interrupt(self, jid: int, reason: int, deadline: float) -> None:
        """Raise JobKilled inside job ``jid`` if it is still running."""
        self.slot[KILL_TARGET] = jid
        self.slot[KILL_REASON] = reason
        self.kill_deadline, self.interrupted = deadline, jid
        try:
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            pass

    def force_kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def exit_description(self) -> str:
        """How the process ended, for error messages."""
        self.process.join(timeout=5)
        code = self.process.exitcode
        if code is None:
            return "is unresponsive"
        if code < 0:
            return f"was killed by signal {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def stop(self) -> None:
        try:
            self.send(("stop",))
        except OSError:
            pass
        self.conn.close()
        self.process.join(timeout=1)
        if self.process.is_alive():
            self.force_kill()
            self.process.join(timeout=1)
