"""Celery task messages for chunks of jobs, written straight into kombu's Redis queues.

The body is plain JSON (no base64) naming a chunk whose pickled arguments sit in Redis, signed
by the submitting api key (picloud.signing); the Celery task id (``picloud-<jid>``) derives from
the chunk's first jid."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

TASK_NAME = "picloud.run_chunk"
#: kombu priority lists: 0 (served first) to 9.
MAX_PRIORITY = 9
_ORIGIN = f"picloud@{socket.gethostname()}:{os.getpid()}"
_EMBED = '{"callbacks": null, "errbacks": null, "chain": null, "chord": null}'


def queue_name(job_type: str, env: str | None) -> str:
    """``_type`` and ``_env`` to a queue: ``c2``, ``c2.myenv``."""
    return f"{job_type}.{env}" if env else job_type


def list_key(queue: str, priority: int) -> str:
    """The kombu Redis list holding ``queue``'s messages of ``priority`` (0 = the queue)."""
    step = min(max(priority, 0), MAX_PRIORITY)
    return f"{queue}\x06\x16{step}" if step else queue


def task_message(queue: str, priority: int, spec: dict[str, Any]) -> str:
    """A Celery protocol-2 message running ``spec`` (a chunk starting at jid ``spec['first']``)."""
    body = f"[[{json.dumps(spec)}], {{}}, {_EMBED}]"
    task_id = f"picloud-{spec['first']}"
    return json.dumps(
        {
            "body": body,
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {
                "lang": "py",
                "task": TASK_NAME,
                "id": task_id,
                "root_id": task_id,
                "parent_id": None,
                "group": None,
                "retries": 0,
                "timelimit": [None, None],
                "argsrepr": f"(chunk {spec['chunk']} of {spec['count']} jobs)",
                "kwargsrepr": "{}",
                "origin": _ORIGIN,
                "ignore_result": True,
            },
            "properties": {
                "correlation_id": task_id,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": min(max(priority, 0), MAX_PRIORITY),
                "delivery_tag": task_id,
            },
        }
    )
