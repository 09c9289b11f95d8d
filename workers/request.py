"""The worker main process's side of a chunk message (Celery's per-task Request class).

When the pool process running a chunk dies, Celery reports a WorkerLostError here, in the main
process. Rather than requeue the whole message to the tail of the queue (Celery's
``reject_on_worker_lost``), the chunk's jobs are handed on at once by what the process's slot
says: the job that was running is charged an attempt (run again or failed), the jobs that
never started go back to queued uncharged, and the message goes to the head of its queue. The
original message is then acknowledged (its jobs are all terminal or handed on)."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from billiard.einfo import ExceptionWithTraceback
from billiard.exceptions import WorkerLostError
from celery.worker.request import Request
from celery.worker.state import task_ready

from picloud import keys
from picloud.engines.cluster import scripts
from workers import holders, leases, progress
from workers.chunk import MAX_ATTEMPTS

log = logging.getLogger("picloud.worker")
_LOST = (WorkerLostError, SystemExit, KeyboardInterrupt)


class ChunkRequest(Request):
    """A ``picloud.run_chunk`` message in the worker's main process."""

    #: the chunk id and its first jid, once a pool process accepted the message
    chunk: str | None = None
    first = 0

    def on_accepted(self, pid: int, time_accepted: float) -> None:
        self._note_chunk()
        super().on_accepted(pid, time_accepted)

    def _note_chunk(self) -> None:
        """Take the chunk id and first jid from the message's spec (when it has them)."""
        spec = self.args[0] if self.args else None
        if isinstance(spec, dict) and spec.get("chunk"):
            self.chunk, self.first = str(spec["chunk"]), int(spec.get("first") or 0)

    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> None:
        exc = exc_info.exception
        if isinstance(exc, ExceptionWithTraceback):
            exc = exc.exc
        lost = isinstance(exc, _LOST) and not (self._already_cancelled or self._already_revoked)
        if lost and self._hand_on(exc):
            task_ready(self)
            self.acknowledge()
            return
        super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

    def _hand_on(self, exc: BaseException) -> bool:
        """Hand the dead process's jobs on; False if that is not known to be ours to do, or
        Redis could not be reached (then Celery requeues the message and the chunk's lease is
        the backstop)."""
        if not self.chunk:  # died before its accepting reached us: the chunk may say who
            self._note_chunk()
            if not self.chunk:
                return False
        pid = int(self.worker_pid or 0) or self._dead_holder()
        if not pid:
            return False
        last, state = progress.known(pid, self.first)
        owner = f"{self.hostname}/{pid}"
        why = describe_loss(exc, pid)
        try:
            requeued = scripts.run(
                leases.main_client(),
                "release",
                time.time(),
                self.chunk,
                owner,
                last,
                state,
                why,
                MAX_ATTEMPTS,
            )
        except redis.RedisError as exc_redis:
            log.warning("picloud: could not hand on chunk %s: %s", self.chunk, exc_redis)
            return False
        progress.discard(pid)
        log.warning(
            "picloud: %s while running chunk %s; %s job(s) handed on", why, self.chunk, requeued
        )
        return True

    def _dead_holder(self) -> int:
        """The pid of the chunk's holder when it is a process of this host that died (then it
        was the one this message went to), else 0."""
        try:
            holder = leases.main_client().hget(keys.chunk_message(str(self.chunk)), "owner")
        except redis.RedisError:
            return 0
        pid = holders.local_pid(holder.decode()) if holder else None
        return 0 if pid is None or holders.is_pool_process(pid) else pid


def describe_loss(exc: BaseException, pid: int | None) -> str:
    """What happened to a pool process, from Celery's WorkerLostError text."""
    text = str(exc)
    process = f"its process (pid {pid})" if pid else "its process"
    for marker in ("signal", "exitcode"):
        at = text.find(marker)
        if at >= 0:
            what = text[at:].split(" Job:")[0].rstrip(". ")
            if marker == "signal":
                return f"{process} was killed by {what}"
            return f"{process} exited ({what})"
    return f"{process} ended: {text}"
