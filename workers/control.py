"""``celery -A workers inspect active``: Celery's own running tasks, and the chunks picloud's
pool processes run (they never pass through Celery, so its list alone would miss them)."""

from __future__ import annotations

from typing import Any

from celery.worker import state as worker_state
from celery.worker.control import inspect_command

from picloud import keys
from workers import leases


@inspect_command(alias="dump_active")
def active(state: Any, safe: bool = False, **_: Any) -> list[dict[str, Any]]:
    """List of tasks currently being executed, and of picloud chunks being run."""
    found = [request.info(safe=safe) for request in state.tset(worker_state.active_requests)]
    consumer = state.consumer
    node = consumer.hostname
    running = leases.running_chunks(node, getattr(consumer.pool, "pids", list)())
    if not running:
        return found
    client = leases.main_client()
    chunks = client.hmget(keys.HOLDING, [owner for owner, _, _ in running])
    for (owner, first, last), chunk in zip(running, chunks):
        pid = int(owner.rpartition("/")[2])
        found.append(
            {
                "id": f"picloud-{first}",
                "name": "picloud.chunk",
                "type": "picloud.chunk",
                "args": [chunk.decode() if chunk else None],
                "kwargs": {"first": first, "running": last or None},
                "hostname": node,
                "worker_pid": pid,
                "acknowledged": True,
                "time_start": None,
                "delivery_info": {},
            }
        )
    return found
