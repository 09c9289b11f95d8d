"""What a job can ask about where it runs (``cloud.running_on_cloud``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class _JobContext(threading.local):
    """The job this thread is running, if any."""

    jid: int | None = None


#: True in a worker process (set once by the worker at start).
in_worker = False
job = _JobContext()
#: In a sandbox: relays a call (method, arguments) to the job's supervisor, which serves it as
#: the job's api key. The cloud API and cloud.files inside a job go through it.
supervisor: Callable[..., Any] | None = None
#: In a worker process of the local engine (simulator, cloud.mp): relays a call to the engine
#: that runs the job, whose connection type is ``parent_type``.
parent: Callable[..., Any] | None = None
parent_type = ""


def running_on_cloud() -> bool:
    """True when called from inside a job."""
    return in_worker or job.jid is not None
