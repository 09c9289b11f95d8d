"""Job statuses and their lifecycle, as PiCloud defined them."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """The seven statuses of a job. Redis and the ledger store the string value."""

    #: has unfinished ``_depends_on`` jobs
    WAITING = "waiting"
    #: ready to run, waiting for a worker
    QUEUED = "queued"
    #: running on a worker
    PROCESSING = "processing"
    #: finished and returned a result
    DONE = "done"
    #: finished by raising an exception (or its worker died)
    ERROR = "error"
    #: killed by ``cloud.kill`` or by exceeding ``_max_runtime``
    KILLED = "killed"
    #: never started because a dependency failed
    STALLED = "stalled"

    @property
    def finished(self) -> bool:
        """True for the four terminal statuses."""
        return self in FINISHED


FINISHED = frozenset({JobStatus.DONE, JobStatus.STALLED, JobStatus.ERROR, JobStatus.KILLED})
FAILED = frozenset({JobStatus.STALLED, JobStatus.ERROR, JobStatus.KILLED})

#: PiCloud's public list, in PiCloud's order.
finished_statuses = ["done", "stalled", "error", "killed"]

#: ``info()`` fields returned when none are asked for.
DEFAULT_INFO_FIELDS = ("stdout", "stderr", "status", "runtime")

#: Every field ``info(jid, 'all')`` returns.
ALL_INFO_FIELDS = (
    "status",
    "stdout",
    "stderr",
    "logging",
    "pilog",
    "syslog",
    "exception",
    "runtime",
    "created",
    "started",
    "finished",
    "function",
    "label",
    "args",
    "kwargs",
    "func_body",
    "env",
    "vol",
    "attributes",
    "profile",
    "priority",
    "type",
    "queue",
    "worker",
    "attempts",
    "depends_on",
)
