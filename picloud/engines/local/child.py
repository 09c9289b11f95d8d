"""The local engine's worker process: receives chunks of jobs over a pipe, runs them, reports."""

from __future__ import annotations

import os
import signal
import time
from collections import OrderedDict
from multiprocessing.connection import Connection
from typing import Any

from picloud import runtime, serialization
from picloud.engines.local.output import job_output
from picloud.exceptions import JobKilled
from picloud.execution import Outcome, run_job
from picloud.jobs import JobStatus
from picloud.options import WireOptions

#: Send finished outcomes at least this often while a chunk runs (seconds).
FLUSH_INTERVAL = 0.005
#: Functions kept unpickled, by their pickled bytes.
FUNCTION_CACHE_SIZE = 64

# Slots of the shared array a worker and the engine both see.
CURRENT, STARTED, KILL_TARGET, KILL_REASON, CONTROL = range(5)
SLOT_SIZE = 5
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

    def on_sigint(self, signum: int, frame: Any) -> None:
        """Raise JobKilled in the running job if the engine asked to kill exactly this job."""
        slot = self.slot
        target = slot[KILL_TARGET]
        if target and target == slot[CURRENT] and runtime.job.jid == int(target):
            if slot[KILL_REASON] == REASON_MAX_RUNTIME:
                raise JobKilled(
                    f"Job exceeded its _max_runtime of {self.options.max_runtime} minute(s)"
                )
            raise JobKilled("Job terminated by user")

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
        slot, send = self.slot, self.conn.send
        try:
            func = self.function(func_blob)
        except Exception:
            from picloud.execution import remote_traceback

            text = "Could not depickle the job's function:\n" + remote_traceback()
            now = time.time()
            send(
                (
                    "out",
                    [Outcome(j, JobStatus.ERROR.value, None, text, now, 0.0) for j, _ in items],
                    True,
                    False,
                )
            )
            return True
        pending: list[Outcome] = []
        last_flush = time.monotonic()
        exiting = False
        for jid, args_blob in items:
            if slot[CONTROL] != self.control_seen:
                self.drain_control()
            if jid in self.skip:
                continue
            outcome = self.run_one(jid, func, args_blob, options)
            pending.append(outcome)
            exiting = options.kill_process or outcome.status == JobStatus.KILLED.value
            if exiting:
                break
            now = time.monotonic()
            if now - last_flush > FLUSH_INTERVAL:
                send(("out", pending, False, False))
                pending = []
                last_flush = now
        send(("out", pending, True, exiting))
        self.skip.clear()
        return not exiting

    def run_one(self, jid: int, func: Any, args_blob: bytes, options: WireOptions) -> Outcome:
        slot = self.slot
        slot[STARTED] = time.time()
        slot[CURRENT] = jid
        output = job_output(self.outdir, jid) if self.outdir else None
        try:
            return run_job(jid, func, args_blob, options, output)
        except JobKilled:  # the kill landed just after the function returned
            return Outcome(
                jid,
                JobStatus.KILLED.value,
                None,
                "Job terminated by user",
                slot[STARTED],
                time.time() - slot[STARTED],
            )
        finally:
            slot[CURRENT] = 0


def child_main(conn: Connection, slot: Any, outdir: str | None) -> None:
    """Entry point of a worker process (forked from the engine's process)."""
    runtime.in_worker = True
    child = _Child(conn, slot, outdir)
    signal.signal(signal.SIGINT, child.on_sigint)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        child.serve()
    finally:
        conn.close()
        os._exit(0)
