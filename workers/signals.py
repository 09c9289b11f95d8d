"""Celery signal handlers: start the reaper with each worker; pool processes die with it."""

from __future__ import annotations

import ctypes
import signal
from typing import Any

from celery.signals import worker_process_init, worker_ready, worker_shutdown

from workers.reaper import Reaper

_reaper: Reaper | None = None
_PR_SET_PDEATHSIG = 1


@worker_process_init.connect
def die_with_worker(**_: Any) -> None:
    """A pool process outliving its main process would run on without a lease, so a job could
    be handed on while it still runs: the kernel SIGKILLs it when its parent dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: nothing to do
        pass


@worker_ready.connect
def start_reaper(sender: Any = None, **_: Any) -> None:
    global _reaper
    queues = sorted(sender.app.amqp.queues.consume_from or ["c1"])
    _reaper = Reaper(queues, sender.hostname)
    _reaper.start()


@worker_shutdown.connect
def stop_reaper(**_: Any) -> None:
    if _reaper is not None:
        _reaper.stop()
