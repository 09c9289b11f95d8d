"""Riding out the broker's faults: a Redis restart, a failover, a cut connection.

A worker that cannot reach Redis keeps what it holds (a message, a finished job's result) and
tries again until Redis is back, rather than fail the task and let Celery acknowledge a message
whose jobs then wait forever; a client waiting on jobs keeps waiting until its own timeout.
Errors are matched by redis-py's classes, never by their text."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from picloud.engines.cluster import scripts

log = logging.getLogger("picloud")
T = TypeVar("T")
#: Faults of the broker rather than of the request (BusyLoadingError, a Redis still loading its
#: data, is a ConnectionError; ReadOnlyError comes from a replica that is not yet promoted).
BROKER_FAULTS: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.NoScriptError,
)


def patiently(client: redis.Redis, call: Callable[[], T], what: str, patience: float | None) -> T:
    """``call()``, retried through broker faults for up to ``patience`` seconds (None: for
    ever; then the last fault is raised), saying so once in the log. Scripts are loaded again
    after a fault: a restarted Redis has none."""
    deadline = None if patience is None else time.monotonic() + patience
    delay = 0.05
    warned = False
    while True:
        try:
            return call()
        except BROKER_FAULTS as exc:
            if deadline is not None and time.monotonic() > deadline:
                raise
            if not isinstance(exc, redis.exceptions.NoScriptError):
                if not warned:
                    log.warning(
                        "picloud: lost the broker while %s (%s); reconnecting, still trying",
                        what,
                        exc,
                    )
                    warned = True
                time.sleep(delay)
                delay = min(2 * delay, 1.0)
        try:
            scripts.load_all(client)
        except BROKER_FAULTS:
            pass
