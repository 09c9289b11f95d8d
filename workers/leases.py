"""Chunk leases, kept by the worker's main process for the chunks its pool processes run.

A chunk taken holds a lease in ``pc:leases`` (expiry as score). The main process renews the
leases of its processes' chunks every third of LEASE_SECONDS, together with each chunk's
progress (its last started job), both read from the processes' slots, so a process whose
threads are starved, or a job that holds its sandbox, still keeps its lease. A lease that
expires means the whole worker is gone: the reaper (workers.reaper) hands its jobs on."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable

import redis

from picloud import broker
from picloud.engines.cluster import scripts
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


def running_chunks(node: str, pids: Iterable[int]) -> list[tuple[str, int, int]]:
    """(owner, first jid of its chunk, its last started job) of each of ``pids`` (this
    worker's pool processes) whose slot says it runs a chunk."""
    out = []
    for pid in pids:
        found = progress.read(pid)
        if found is not None and found.first:
            out.append((f"{node}/{pid}", found.first, found.last_started))
    return out


def renew(client: redis.Redis, node: str, pids: Iterable[int]) -> int:
    """Renew the leases of the chunks ``pids`` run and record their progress (renew.lua);
    return how many. No command is sent when none runs."""
    running = running_chunks(node, pids)
    if not running:
        return 0
    expiry = time.time() + LEASE_SECONDS
    return int(scripts.run(client, "renew", expiry, *[v for row in running for v in row]))
