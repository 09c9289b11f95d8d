"""Celery signal handlers: start the reaper with each worker."""

from __future__ import annotations

from typing import Any

from celery.signals import worker_ready, worker_shutdown

from workers.reaper import Reaper

_reaper: Reaper | None = None


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
