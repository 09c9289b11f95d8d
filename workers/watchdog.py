"""Per pool process: stopping the job it runs when asked (the kill channel), by SIGKILLing its
sandbox at once, whatever the job is doing; a job of the batch killed before it started is
skipped, never started. (``_max_runtime`` is the sandbox run's deadline: workers.sandboxes.)"""

from __future__ import annotations

import threading

from workers.sandboxes import Sandbox

KILLED_BY_USER = "Job terminated by user"


class Watchdog:
    """What the chunk runner tells it, and ``on_kill`` for the listener."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.chunk_jobs: set[int] = set()
        self.killed: set[int] = set()
        self._sandbox: Sandbox | None = None

    def begin_chunk(self, jids: list[int]) -> None:
        with self._lock:
            self.chunk_jobs, self.killed = set(jids), set()

    def end_chunk(self) -> None:
        with self._lock:
            self.chunk_jobs = set()

    def begin_batch(self, sandbox: Sandbox) -> None:
        """``sandbox`` runs a batch of the chunk's jobs now."""
        with self._lock:
            self._sandbox = sandbox

    def end_batch(self) -> None:
        with self._lock:
            self._sandbox = None

    def on_kill(self, data: bytes) -> None:
        """A kill announcement (a jid)."""
        jid = int(data)
        with self._lock:
            if jid not in self.chunk_jobs:
                return
            self.killed.add(jid)
            sandbox = self._sandbox
            if sandbox is None:
                return
            if sandbox.current == jid:
                sandbox.kill(KILLED_BY_USER)
            else:
                sandbox.skip(jid)
