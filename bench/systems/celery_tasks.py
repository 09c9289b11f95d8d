"""The raw Celery app of the ``celery-raw`` peer: one trivial task, broker and result backend
both the Redis at ``$BENCH_CELERY_URL``. The worker runs
``python -m celery -A bench.systems.celery_tasks worker`` with that variable set; the client
builds its own app for its URL with ``make_app``."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

TASK_NAME = "bench.square"


def make_app(url: str) -> tuple[Celery, Any]:
    """A Celery app on ``url`` (broker and result backend) and its ``square`` task."""
    app = Celery("bench_celery", broker=url, backend=url)
    app.conf.update(broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)

    @app.task(name=TASK_NAME, shared=False)
    def square(x: int) -> int:
        return x * x

    return app, square


app, square = make_app(os.environ.get("BENCH_CELERY_URL", "redis://127.0.0.1:6379/0"))
