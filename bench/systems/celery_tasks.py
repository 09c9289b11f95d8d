"""The raw Celery app of the ``celery-raw`` peer: bench.workloads' functions as tasks, broker
and result backend both the Redis at ``$BENCH_CELERY_URL``. The worker runs
``python -m celery -A bench.systems.celery_tasks worker`` with that variable set; the client
builds its own app for its URL with ``make_app``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from celery import Celery

from bench.workloads import ALL


def make_app(url: str) -> tuple[Celery, dict[Callable[..., Any], Any]]:
    """A Celery app on ``url`` (broker and result backend) and its tasks, by the workload
    function each runs (task name ``bench.<function name>``)."""
    app = Celery("bench_celery", broker=url, backend=url)
    app.conf.update(broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)
    tasks = {func: app.task(name=f"bench.{func.__name__}", shared=False)(func) for func in ALL}
    return app, tasks


app, tasks = make_app(os.environ.get("BENCH_CELERY_URL", "redis://127.0.0.1:6379/0"))
