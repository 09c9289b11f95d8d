"""A pool process that exited, as the worker's main process sees it: the chunk it held is
handed on at once, by what its slot says (release.lua): the job that was running is charged
an attempt, jobs that never started go back to queued uncharged. If Redis cannot be reached
then, the chunk's lease running out hands it on (workers.reaper)."""

from __future__ import annotations

import logging
import signal
import time

import redis

from picloud import keys
from picloud.engines.cluster import scripts
from workers import leases, progress
from workers.chunk import MAX_ATTEMPTS

log = logging.getLogger("picloud.worker")

#: This worker's Celery node name (``c1@host``; with a pid, the owner name its processes hold
#: chunks as), once it is ready (``watch``).
node = ""


def watch(node_name: str) -> None:
    """From now on, hand on the chunks of this worker's processes that exit."""
    global node
    node = node_name


def describe(pid: int, exitcode: int | None) -> str:
    """What happened to process ``pid``, from its exit code (negative: the signal)."""
    process = f"its process (pid {pid})"
    if exitcode is None:
        return f"{process} ended"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown"
        return f"{process} was killed by signal {-exitcode} ({name})"
    return f"{process} exited (exitcode {exitcode})"


def hand_on(pid: int, exitcode: int | None) -> int:
    """Hand on the chunk pool process ``pid`` held when it exited; how many jobs went back."""
    if not node:
        return 0
    owner = f"{node}/{pid}"
    client = leases.main_client()
    try:
        chunk = client.hget(keys.HOLDING, owner)
        first = client.hget(keys.chunk_message(chunk.decode()), "first") if chunk else None
        if chunk is None or first is None:
            return 0
        last, state = progress.known(pid, int(first))
        why = describe(pid, exitcode)
        requeued = scripts.run(
            client, "release", time.time(), chunk, owner, last, state, why, MAX_ATTEMPTS
        )
    except redis.RedisError as exc:
        log.warning("picloud: could not hand on the chunk of pool process %s: %s", pid, exc)
        return 0
    progress.discard(pid)
    if requeued:
        log.warning("picloud: %s; %s job(s) of chunk %s handed on", why, requeued, chunk.decode())
    return int(requeued)
