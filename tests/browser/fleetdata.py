"""What the dashboard tests put in the broker and the ledger: heartbeats, queued chunks, jobs."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import redis
from django.utils import timezone

from picloud import keys
from tests.queueing import place
from webui.ledger.models import Job


def beat(client: redis.Redis, queue: str, node: str | None = None, age: float = 0.0) -> None:
    """Record a heartbeat of worker ``node`` of ``queue`` ``age`` seconds ago (the queue's own
    heartbeat is the latest of its workers')."""
    when = time.time() - age
    last = client.hget(keys.POOL_HEARTBEATS, queue)
    client.hset(keys.POOL_HEARTBEATS, queue, max(when, float(last or 0)))
    if node is not None:
        client.hset(keys.WORKER_HEARTBEATS, f"{queue} {node}", when)


def enqueue(client: redis.Redis, queue: str, count: int, priority: int = 0) -> None:
    """Queue ``count`` stand-in chunks on ``queue`` at ``priority``."""
    for _ in range(count):
        place(client, queue, uuid.uuid4().hex, priority)


def job(jid: int, status: str, ago: float | None = None, **fields: Any) -> Job:
    """A Job row; a finished one (``ago``: seconds since it finished) gets its times."""
    now = timezone.now()
    if ago is not None:
        fields.setdefault("finished", now - timedelta(seconds=ago))
        fields.setdefault("started", fields["finished"] - timedelta(seconds=1))
    fields.setdefault("created", now - timedelta(seconds=(ago or 0) + 2))
    return Job.objects.create(jid=jid, status=status, updated=now, **fields)
