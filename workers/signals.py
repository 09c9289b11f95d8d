"""Celery signal handlers: the reaper and the trust listener start with each worker; pool
processes die with it, hide their memory, and start their first sandboxes at once; a warm
shutdown drains them."""

from __future__ import annotations

import ctypes
import logging
import signal
from typing import Any

from billiard.process import active_children
from celery import current_app
from celery.signals import (
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)

from picloud import broker, keys
from workers import cgroups, progress, sandboxes
from workers.context import undumpable
from workers.listener import Listener
from workers.pools import pool_for_queue
from workers.reaper import Reaper
from workers.trust import NO_AUTHORITY, trust

log = logging.getLogger("picloud.worker")
#: Seconds between the worker's Celery event heartbeats (Celery's default is 2 s), unless its
#: command line says ``--heartbeat-interval``: Flower reads the interval from each heartbeat,
#: and an idle fleet then sends a fifth of the broker traffic for it.
EVENT_HEARTBEAT_SECONDS = 10
_reaper: Reaper | None = None
_PR_SET_PDEATHSIG = 1


@worker_init.connect
def guard_main_process(sender: Any = None, **_: Any) -> None:
    """The main process holds the broker's URL too: hide its memory from sandboxes. Choose
    cgroups or rlimits for the sandboxes before the pool forks. Space out the event
    heartbeats (the consumer's steps are made from these options next)."""
    options = getattr(sender, "options", None)
    if isinstance(options, dict) and options.get("heartbeat_interval") is None:
        options["heartbeat_interval"] = EVENT_HEARTBEAT_SECONDS
    undumpable()
    cgroups.prepare()
    if not trust().public_key:
        log.error("picloud: %s: every job will be refused", NO_AUTHORITY)


@worker_process_init.connect
def prepare_pool_process(**_: Any) -> None:
    """A pool process outliving its main process would run on without a lease, so a job could
    be handed on while it still runs: the kernel SIGKILLs it when its parent dies. Its first
    sandboxes start now, so the first job does not wait for one."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: nothing to do
        pass
    undumpable()
    for queue in sorted(current_app.amqp.queues.consume_from or ["c1"])[:1]:
        sandboxes.keeper_for(pool_for_queue(queue))


@worker_ready.connect
def start_reaper(sender: Any = None, **_: Any) -> None:
    global _reaper
    queues = sorted(sender.app.amqp.queues.consume_from or ["c1"])
    _reaper = Reaper(queues, sender.hostname)
    _reaper.start()
    # processes forked from now on start knowing the newest trust records
    Listener(broker.client(broker.broker_url()), {keys.TRUST_CHANNEL: trust().learn})


@worker_shutting_down.connect
def drain(how: str = "", **_: Any) -> None:
    """A warm shutdown (SIGTERM) drains the worker: each pool process, and the sandbox it
    runs, finishes the job running and starts no other; the rest of its chunk goes back to
    the queue for other workers (workers.chunk), while Celery waits for the running ones."""
    if how != "Warm":
        return
    children = [child.pid for child in active_children() if child.pid]
    drained = sum(progress.drain(pid) for pid in children)
    log.warning("picloud: shutting down: %s of %s pool process(es) drained", drained, len(children))


@worker_shutdown.connect
def stop_reaper(**_: Any) -> None:
    if _reaper is not None:
        _reaper.stop()
