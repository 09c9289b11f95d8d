"""Per pool process: stopping the job it runs when asked (the kill channel), by SIGKILLing its
sandbox at once, whatever the job is doing; a job of the batch killed before it started is
skipped, never started. (``_max_runtime`` is the sandbox run's deadline: workers.sandboxes.)

A kill can cross the job's start in three places, all closed here: announced after the claim
but before the chunk runner knew its jobs (kept among the recent kills, which the chunk takes
up); announced while the batch is being built (skipped when the batch begins); announced just as
the sandbox starts the job (the skip comes too late: the job is watched until the sandbox is
past it, and killed if it started)."""

from __future__ import annotations

import threading
import time
from collections import deque

from picloud.exceptions import KILLED_BY_USER
from picloud.sandbox.slot import RUNNING
from workers.sandboxes import Sandbox

#: Kill announcements remembered for a chunk claimed before they came (jids).
RECENT_KILLS = 4096
#: Seconds between two looks at a sandbox told to skip a job it may be starting.
WATCH_INTERVAL = 0.01


class Watchdog:
    """What the chunk runner tells it, and ``on_kill`` for the listener."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.chunk_jobs: set[int] = set()
        self.killed: set[int] = set()
        self._sandbox: Sandbox | None = None
        self._recent: deque[int] = deque(maxlen=RECENT_KILLS)

    def begin_chunk(self, jids: list[int]) -> None:
        with self._lock:
            self.chunk_jobs = set(jids)
            self.killed = self.chunk_jobs.intersection(self._recent)

    def end_chunk(self) -> None:
        with self._lock:
            self.chunk_jobs = set()

    def begin_batch(self, sandbox: Sandbox, jids: list[int]) -> None:
        """``sandbox`` runs a batch of the chunk's jobs now: those killed since the batch was
        made are skipped."""
        with self._lock:
            self._sandbox = sandbox
            late = self.killed.intersection(jids)
        for jid in sorted(late):
            self._skip(sandbox, jid)

    def end_batch(self) -> None:
        with self._lock:
            self._sandbox = None

    def on_kill(self, data: bytes) -> None:
        """A kill announcement (a jid)."""
        jid = int(data)
        with self._lock:
            self._recent.append(jid)
            if jid not in self.chunk_jobs:
                return
            self.killed.add(jid)
            sandbox = self._sandbox
            if sandbox is None:
                return
            if sandbox.current == jid:
                sandbox.kill(KILLED_BY_USER)
                return
        self._skip(sandbox, jid)

    def _skip(self, sandbox: Sandbox, jid: int) -> None:
        """Tell ``sandbox`` to skip ``jid``, and watch that it does."""
        sandbox.skip(jid)
        threading.Thread(target=self._watch, args=(sandbox, jid), daemon=True).start()

    def _watch(self, sandbox: Sandbox, jid: int) -> None:
        """Kill ``jid`` if ``sandbox`` starts it after all, until the batch ends or the sandbox
        is past it (a batch runs its jobs in jid order)."""
        while True:
            with self._lock:
                if self._sandbox is not sandbox:
                    return
                last, state = sandbox.slot.now()
                if last == jid and state == RUNNING:
                    sandbox.kill(KILLED_BY_USER)
                    return
                if last > jid:
                    return
            time.sleep(WATCH_INTERVAL)
