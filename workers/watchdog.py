"""Per worker process: kill requests and ``_max_runtime`` (the running chunk's lease is the
main process's: workers.leases)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

import redis

from picloud import defaults, keys, runtime
from picloud.engines.cluster import scripts
from picloud.exceptions import JobKilled
from picloud.jobs import JobStatus
from picloud.options import WireOptions

log = logging.getLogger("picloud.worker")
TICK = 0.2
INTERRUPT = signal.SIGUSR2


class Watchdog:
    """Stops the running job when asked (kill channel) or when it runs too long. One per worker
    process, with two daemon threads."""

    def __init__(self, client: redis.Redis, owner: str) -> None:
        self._client = client
        self._owner = owner
        self._lock = threading.Lock()
        self.chunk: str | None = None
        self.chunk_jobs: set[int] = set()
        self.killed: set[int] = set()
        self.options = WireOptions()
        self.current = 0
        self.started = 0.0
        self._target = 0
        self._reason = ""
        self._deadline: float | None = None
        signal.signal(INTERRUPT, self._on_interrupt)
        for target, name in ((self._listen, "kills"), (self._tick, "ticks")):
            threading.Thread(target=target, name=f"picloud-watchdog-{name}", daemon=True).start()

    # --- called by the chunk runner -----------------------------------------------------------
    def begin_chunk(self, chunk: str, jids: list[int], options: WireOptions) -> None:
        with self._lock:
            self.chunk, self.chunk_jobs, self.options = chunk, set(jids), options
            self.killed = set()

    def end_chunk(self) -> None:
        with self._lock:
            self.chunk, self.chunk_jobs = None, set()

    def begin_job(self, jid: int) -> bool:
        """Mark ``jid`` running; False if it was killed before it started."""
        with self._lock:
            if jid in self.killed:
                return False
            self.current, self.started = jid, time.time()
            return True

    def end_job(self) -> None:
        with self._lock:
            self.current = 0

    # --- stopping a job -----------------------------------------------------------------------
    def _on_interrupt(self, signum: int, frame: Any) -> None:
        target = self._target
        if target and target == self.current and runtime.job.jid == target:
            raise JobKilled(self._reason)

    def _interrupt(self, jid: int, reason: str) -> None:
        """Raise JobKilled in the job (lock held); exit the process if it does not stop."""
        if self._deadline is not None:
            return
        self._target, self._reason = jid, reason
        self._deadline = time.monotonic() + defaults.KILL_GRACE_SECONDS
        os.kill(os.getpid(), INTERRUPT)

    def _listen(self) -> None:
        while True:
            try:
                self._listen_once()
            except redis.RedisError as exc:
                log.warning("kill listener lost the broker (%s); reconnecting", exc)
                time.sleep(1)

    def _listen_once(self) -> None:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(keys.KILL_CHANNEL)
        while True:
            message = pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            jid = int(message["data"])
            with self._lock:
                if jid in self.chunk_jobs:
                    self.killed.add(jid)
                    if jid == self.current:
                        self._interrupt(jid, "Job terminated by user")

    def _tick(self) -> None:
        while True:
            time.sleep(TICK)
            now = time.monotonic()
            with self._lock:
                current, limit = self.current, self.options.max_runtime
                if current and limit and time.time() - self.started > limit * 60:
                    self._interrupt(current, f"Job exceeded its _max_runtime of {limit} minute(s)")
                overdue = self._deadline is not None and now > self._deadline
            if overdue:
                self._give_up(current)

    def _give_up(self, jid: int) -> None:
        """The job ignored JobKilled: record it killed and end this process."""
        grace = defaults.KILL_GRACE_SECONDS
        text = f"{self._reason} (the job did not stop within {grace:g} s; its process exited)"
        try:
            header = f"{jid} {JobStatus.KILLED.value} {self.started!r} "
            header += f"{time.time() - self.started!r} 0"
            scripts.run(self._client, "finish", time.time(), self._owner, "", header, text)
        finally:
            os._exit(1)
