"""Chunk leases, kept by the worker's main process for the chunks its pool processes run.

A claimed chunk holds a lease in ``pc:leases`` (expiry as score). The main process renews the
leases of its running chunks every third of LEASE_SECONDS, together with each chunk's progress
(its last started job, read from the pool process's slot), so a job that holds the GIL or
starves its own threads still keeps its lease. A lease that expires means the whole worker is
gone: the reaper (workers.reaper) hands its jobs on."""

from __future__ import annotations

import os
import threading
import time

import redis
from celery.worker import state

from picloud import broker, keys
from picloud.engines.cluster.messages import TASK_NAME
from workers import progress

#: A chunk's lease (seconds); PICLOUD_LEASE_SECONDS sets it (tests use a shorter one).
LEASE_SECONDS = float(os.environ.get("PICLOUD_LEASE_SECONDS") or 6.0)
#: How often the main process renews its leases and the reaper sweeps.
RENEW_INTERVAL = LEASE_SECONDS / 3

_client: redis.Redis | None = None
_client_lock = threading.Lock()


def main_client() -> redis.Redis:
    """The main process's own Redis client (the reaper's and the lost-process handler's)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = broker.client(broker.broker_url())
        return _client


def running_chunks() -> list[tuple[str, int, int]]:
    """(chunk id, its first jid, pool process pid) of every chunk this worker's pool processes
    run now."""
    out = []
    for request in tuple(state.active_requests):  # one C call: safe beside the consumer
        chunk, pid = getattr(request, "chunk", None), request.worker_pid
        if request.name == TASK_NAME and chunk and pid:
            out.append((chunk, int(request.first), int(pid)))
    return out


def renew(client: redis.Redis) -> int:
    """Renew the leases of this worker's running chunks and record their progress; return
    how many. No command is sent when none runs."""
    running = running_chunks()
    if not running:
        return 0
    expiry = time.time() + LEASE_SECONDS
    pipe = client.pipeline(transaction=False)
    pipe.zadd(keys.LEASES, {chunk: expiry for chunk, _, _ in running}, xx=True)
    for chunk, first, pid in running:
        last, _ = progress.known(pid, first)
        if last:
            pipe.hset(keys.chunk_message(chunk), "started", last)
    pipe.execute()
    return len(running)
