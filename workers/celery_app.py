"""The Celery app every worker runs: Redis broker, JSON messages, late acks, real priorities."""

from __future__ import annotations

from celery import Celery

from picloud.broker import broker_url
from workers.pools import POOLS

#: Seconds kombu waits before redelivering an unacknowledged message. Dead workers are found
#: sooner by leases (workers/reaper.py); this is only the broker's own backstop.
VISIBILITY_TIMEOUT = 3600

app = Celery("workers", include=["workers.tasks", "workers.cron_task", "workers.signals"])
app.conf.update(
    broker_url=broker_url(),
    broker_transport_options={
        # PiCloud's _priority: lower runs first; kombu serves list priority 0 before 9.
        "priority_steps": list(range(10)),
        "queue_order_strategy": "priority",
        "visibility_timeout": VISIBILITY_TIMEOUT,
    },
    broker_connection_retry_on_startup=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_ignore_result=True,
    # no results are stored, so beat has none to clean up (no celery.backend_cleanup entry)
    result_expires=None,
    worker_prefetch_multiplier=1,
    # Pools set their own limit (workers/pools.py); this default must stay above zero because
    # retiring a process after a job (workers/tasks.py) goes through billiard's memory check.
    worker_max_memory_per_child=POOLS["c1"].max_memory_per_child_kb,
    # A running chunk survives a lost broker connection: its worker retries Redis until it is
    # back (picloud.engines.cluster.patience), so nothing is cancelled and run again.
    worker_cancel_long_running_tasks_on_connection_loss=False,
    accept_content=["json"],
    task_serializer="json",
    task_default_queue="c1",
    worker_send_task_events=False,
    worker_hijack_root_logger=False,
)
