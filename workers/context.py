"""What one worker process keeps between jobs: its Redis client, name, functions, watchdog
and progress slot."""

from __future__ import annotations

import os
import socket
from collections import OrderedDict
from typing import Any

import redis

from picloud import broker, runtime, serialization
from workers.progress import Slot
from workers.watchdog import Watchdog

FUNCTION_CACHE_SIZE = 64


class WorkerContext:
    """Per process; made on the first job after the process forked."""

    def __init__(self, nodename: str | None) -> None:
        self.pid = os.getpid()
        self.hostname = socket.gethostname()
        #: how jobs name the process running them: Celery node name / pid (``c1@host/4242``)
        self.owner = f"{nodename or self.hostname}/{self.pid}"
        self.redis: redis.Redis = broker.client(broker.broker_url())
        self.watchdog = Watchdog(self.redis, self.owner)
        #: which job this process runs, for the worker's main process to read
        self.slot = Slot()
        self._functions: OrderedDict[str, Any] = OrderedDict()
        runtime.in_worker = True

    def function(self, digest: str, blob: bytes) -> Any:
        """The unpickled function ``digest`` (``blob``: its pickle, read and verified with the
        chunk)."""
        func = self._functions.get(digest)
        if func is not None:
            self._functions.move_to_end(digest)
            return func
        func = serialization.loads(blob)
        self._functions[digest] = func
        if len(self._functions) > FUNCTION_CACHE_SIZE:
            self._functions.popitem(last=False)
        return func


_context: WorkerContext | None = None


def worker_context(nodename: str | None = None) -> WorkerContext:
    """This process's context (made anew in a process forked since)."""
    global _context
    if _context is None or _context.pid != os.getpid():
        _context = WorkerContext(nodename)
    return _context
