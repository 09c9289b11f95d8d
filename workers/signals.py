"""Celery signal handlers: the reaper, the trust listener and the watch on pool processes
that exit start with each worker; pool processes die with it, hide their memory, start their
first sandboxes and their consumer at once, and let their running job end when they exit; a
warm shutdown drains them."""

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
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)

from picloud import broker, keys
from workers import cgroups, consumer, lost, progress, sandboxes
from workers.context import undumpable, worker_context
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
def prepare_pool_process(sender: Any = None, **_: Any) -> None:
    """A pool process outliving its main process would run on without a lease, so a job could
    be handed on while it still runs: the kernel SIGKILLs it when its parent dies. Its first
    sandboxes start now, so the first job does not wait for one; then it starts taking
    chunks (``sender`` is the worker's node name)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: nothing to do
        pass
    undumpable()
    queues = _queues(current_app)
    sandboxes.keeper_for(pool_for_queue(queues[0]))
    consumer.start(queues, worker_context(sender))


@worker_process_shutdown.connect
def stop_consuming(**_: Any) -> None:
    """A pool process exits (the worker stops, or shrinks): its running job ends first."""
    consumer.stop()


@worker_ready.connect
def start_reaper(sender: Any = None, **_: Any) -> None:
    global _reaper
    queues = _queues(sender.app)
    lost.watch(sender.hostname)
    worker = sender.controller  # the WorkController (the sender is its Consumer)
    processes = getattr(worker, "max_concurrency", None) or worker.concurrency
    _reaper = Reaper(queues, sender.hostname, getattr(sender.pool, "pids", list), processes)
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


def _queues(app: Any) -> list[str]:
    """The queues this worker serves (``-Q``), in a fixed order."""
    return sorted(app.amqp.queues.consume_from or ["c1"])
