"""Running ``_callback`` / ``_callback_on_error`` functions in the submitting process."""

from __future__ import annotations

import inspect
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from picloud.jobs import JobStatus

log = logging.getLogger("picloud")


def takes_jid(callback: Callable[..., Any]) -> bool:
    """PiCloud passes the jid only to callbacks that take an argument."""
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in parameters
    )


class CallbackRunner:
    """One daemon thread that runs callbacks in the order their jobs finished."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], int] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def schedule(self, callbacks: tuple[Callable[..., Any], ...], jid: int) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="picloud-callbacks", daemon=True
                )
                self._thread.start()
        for callback in callbacks:
            self._queue.put((callback, jid))

    def watcher(self, on_done: tuple, on_error: tuple) -> Callable[[int, JobStatus], None]:
        """A function for ``Engine.watch`` that schedules the callbacks the status calls for."""

        def finished(jid: int, status: JobStatus) -> None:
            callbacks = on_done if status == JobStatus.DONE else on_error
            if callbacks:
                self.schedule(callbacks, jid)

        return finished

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            callback, jid = item
            try:
                if takes_jid(callback):
                    callback(jid)
                else:
                    callback()
            except Exception:
                log.exception("callback %r for job %s raised", callback, jid)

    def close(self) -> None:
        """Run the callbacks already scheduled, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            if thread is not threading.current_thread():
                thread.join(timeout=10)
