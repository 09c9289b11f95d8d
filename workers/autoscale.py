"""Celery's autoscaler (``--autoscale``), counting the load of picloud's pool processes.

Chunks never pass through Celery, so its count of reserved tasks says nothing of the load:
here it is the processes running a chunk (their slots), plus, when every process is busy, the
chunks waiting in the worker's queues."""

from __future__ import annotations

import redis
from celery.worker import autoscale

from picloud import keys
from workers import leases
from workers.pool import running


class Autoscaler(autoscale.Autoscaler):
    """Set as ``worker_autoscaler`` (workers.celery_app)."""

    @property
    def qty(self) -> int:
        pids = self.pool.pids()
        busy = sum(running(pid) for pid in pids)
        if busy < len(pids):
            return busy
        queues = self.worker.app.amqp.queues.consume_from or ["c1"]
        pipe = leases.main_client().pipeline(transaction=False)
        for queue in queues:
            pipe.zcard(keys.queue(queue))
        try:
            return busy + sum(pipe.execute())
        except redis.RedisError:
            return busy
