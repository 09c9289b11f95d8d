"""What one pool process (a supervisor) keeps between chunks: its Redis client and name, its
progress slot, its sandboxes per pool, the watchdog and the server of its jobs' cloud calls."""

from __future__ import annotations

import ctypes
import os
import socket

import redis

from picloud import broker, keys
from workers.jobcalls import JobCalls
from workers.listener import Listener
from workers.pools import pool_for_queue
from workers.progress import own_slot
from workers.sandboxes import Keeper, keeper_for
from workers.trust import trust
from workers.watchdog import Watchdog

_PR_SET_DUMPABLE = 4


def undumpable() -> None:
    """Keep this process's memory and /proc files (environ, mem) from processes of the same
    uid: a sandbox of a worker that is not root runs as that uid."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        pass


class WorkerContext:
    """Per process; made on the first chunk (or at start) after the process forked."""

    def __init__(self, nodename: str | None) -> None:
        self.pid = os.getpid()
        self.hostname = socket.gethostname()
        #: how jobs name the process running them: Celery node name / pid (``c1@host/4242``)
        self.owner = f"{nodename or self.hostname}/{self.pid}"
        self.url = broker.broker_url()
        self.redis: redis.Redis = broker.client(self.url)
        self.trust = trust()
        self.watchdog = Watchdog()
        Listener(
            broker.client(self.url),
            {keys.KILL_CHANNEL: self.watchdog.on_kill, keys.TRUST_CHANNEL: self.trust.learn},
        )
        #: which job this process runs, for the worker's main process to read
        self.slot = own_slot()
        self.calls = JobCalls(self.url)

    def keeper(self, queue: str) -> Keeper:
        """The sandboxes of ``queue``'s pool (started on first use)."""
        return keeper_for(pool_for_queue(queue))


_context: WorkerContext | None = None


def worker_context(nodename: str | None = None) -> WorkerContext:
    """This process's context (made anew in a process forked since)."""
    global _context
    if _context is None or _context.pid != os.getpid():
        _context = WorkerContext(nodename)
    return _context
