"""The Celery app every worker runs: Redis broker, JSON messages, late acks, and a pool whose
processes take picloud's chunks straight from Redis (workers.pool, workers.consumer); Celery's
own messages are its tasks' (cron firings) and control commands."""

from __future__ import annotations

from celery import Celery

from picloud.broker import broker_url

#: Seconds kombu waits before redelivering an unacknowledged message. Dead workers are found
#: sooner by leases (workers/reaper.py); this is only the broker's own backstop.
VISIBILITY_TIMEOUT = 3600

#: Seconds kombu's wait for a Celery message lasts (its default is 1 s): one command per wait
#: while idle. Cron firings, the only tasks, are sent a minute apart at most.
POLLING_INTERVAL = 10
#: Seconds a read on kombu's Redis connections may wait. A warm shutdown closes the channel
#: by reading the reply of the wait in progress: without a bound it lasted up to
#: POLLING_INTERVAL (9 s to stop an idle worker); the event loop itself only reads replies
#: that have arrived.
SOCKET_TIMEOUT = 1

app = Celery("workers", include=["workers.cron_task", "workers.signals", "workers.control"])
app.conf.update(
    broker_url=broker_url(),
    broker_transport_options={
        "priority_steps": list(range(10)),
        "queue_order_strategy": "priority",
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "polling_interval": POLLING_INTERVAL,
        "socket_timeout": SOCKET_TIMEOUT,
    },
    worker_pool="workers.pool:SupervisorPool",
    worker_autoscaler="workers.autoscale:Autoscaler",
    broker_connection_retry_on_startup=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_ignore_result=True,
    # no results are stored, so beat has none to clean up (no celery.backend_cleanup entry)
    result_expires=None,
    worker_prefetch_multiplier=1,
    # Celery's own default, said aloud (it warns otherwise): chunks never pass through it.
    worker_cancel_long_running_tasks_on_connection_loss=False,
    accept_content=["json"],
    task_serializer="json",
    task_default_queue="c1",
    worker_send_task_events=False,
    worker_hijack_root_logger=False,
)
