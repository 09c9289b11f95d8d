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
            self._deliver(item[1].decode())

    def _deliver(self, text: str) -> None:
        fired = []
        with self.changed:
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
