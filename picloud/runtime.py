"""What a job can ask about where it runs (``cloud.running_on_cloud``)."""

from __future__ import annotations

import threading


class _JobContext(threading.local):
    """The job this thread is running, if any."""

    jid: int | None = None


#: True in a worker process (set once by the worker at start).
in_worker = False
job = _JobContext()


def running_on_cloud() -> bool:
    """True when called from inside a job."""
    return in_worker or job.jid is not None
