"""The client's view of finished jobs: a thread that blocks on this client's reply list."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from picloud.engines.base import Watcher
from picloud.exceptions import CloudException
from picloud.jobs import JobStatus

log = logging.getLogger("picloud")
#: Pushed to the reply list to wake the thread when the engine closes.
_STOP = b"stop"
#: Starts a notice of one done job that carries its (small) result: ``=<jid>:<result>``.
_CARRIED = b"="
#: Carried results kept until read, at most (the oldest go first; then they are read).
CARRIED_KEPT = 64
#: Seconds one wait on the reply list lasts (closing wakes it sooner, with _STOP): an idle
#: client costs the broker one command per this.
WAIT_SECONDS = 30


class FinishNotices:
    """Which of this client's jobs finished, as the workers announce them, with a condition
    to wait on and watchers to call."""

    def __init__(self, connect: Callable[[], redis.Redis], reply_key: str) -> None:
        self._connect = connect
        self.reply_key = reply_key
        self.changed = threading.Condition()
        self.finished: dict[int, JobStatus] = {}
        #: jids announced as failed (error, killed, stalled), in arrival order
        self.failures: list[int] = []
        #: results that rode their job's notice, not read yet
        self._carried: dict[int, bytes] = {}
        self._watchers: dict[int, list[Watcher]] = {}
        self._thread: threading.Thread | None = None
        self._closing = False

    def start(self) -> None:
        with self.changed:
            if self._thread is None and not self._closing:
                self._thread = threading.Thread(
                    target=self._listen, name="picloud-notices", daemon=True
                )
                self._thread.start()

    def add_watcher(self, jid: int, watcher: Watcher) -> JobStatus | None:
        """Register ``watcher``; return the status instead if the job is known finished."""
        with self.changed:
            status = self.finished.get(jid)
            if status is None:
                self._watchers.setdefault(jid, []).append(watcher)
            return status

    def take_watchers(self, jid: int) -> list[Watcher]:
        with self.changed:
            return self._watchers.pop(jid, [])

    def forget(self, jids: list[int]) -> None:
        with self.changed:
            for jid in jids:
                self.finished.pop(jid, None)
                self._carried.pop(jid, None)

    def take_result(self, jid: int) -> bytes | None:
        """The result that came with job ``jid``'s notice (once), else None."""
        with self.changed:
            return self._carried.pop(jid, None)

    def _listen(self) -> None:
        client: redis.Redis | None = None
        while True:
            try:
                if client is None:
                    client = self._connect()
                item = client.brpop([self.reply_key], timeout=WAIT_SECONDS)
            except (redis.ConnectionError, redis.TimeoutError, OSError, CloudException) as exc:
                log.warning("picloud: lost the broker while waiting for job notices: %s", exc)
                if self._closing:
                    return
                threading.Event().wait(1.0)
                continue
            if self._closing:
                return
            if item is None or item[1] == _STOP:
                continue
            try:
                self._take(item[1])
            except ValueError:  # not a notice this client knows: the others still count
                log.warning("picloud: ignored a job notice it cannot read: %r", item[1][:80])

    def _take(self, notice: bytes) -> None:
        """Deliver one notice: ``jid:status,...``, or one done job with its result."""
        if notice[:1] == _CARRIED:
            head, _, result = notice[1:].partition(b":")
            jid = int(head)
            self._deliver(f"{jid}:{JobStatus.DONE.value}", (jid, result))
        else:
            self._deliver(notice.decode())

    def _deliver(self, text: str, carried: tuple[int, bytes] | None = None) -> None:
        fired = []
        with self.changed:
            if carried is not None:
                self._carried[carried[0]] = carried[1]
                while len(self._carried) > CARRIED_KEPT:
                    del self._carried[next(iter(self._carried))]
            for token in text.split(","):
                jid_text, _, status_text = token.partition(":")
                jid, status = int(jid_text), JobStatus(status_text)
                self.finished[jid] = status
                if status != JobStatus.DONE:
                    self.failures.append(jid)
                watchers = self._watchers.pop(jid, None)
                if watchers:
                    fired.append((watchers, jid, status))
            self.changed.notify_all()
        for watchers, jid, status in fired:
            for watcher in watchers:
                watcher(jid, status)

    def close(self, client: redis.Redis) -> None:
        with self.changed:
            self._closing = True
            thread, self._thread = self._thread, None
            self.changed.notify_all()
        if thread is not None:
            try:
                client.lpush(self.reply_key, _STOP)
            except redis.RedisError:
                pass
            thread.join(timeout=6)
