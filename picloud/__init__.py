"""picloud: PiCloud's ``cloud`` API, self-hosted. ``import cloud`` is the same package."""

from __future__ import annotations

from picloud.api import (
    call,
    close,
    connection_info,
    delete,
    info,
    iresult,
    is_simulated,
    join,
    kill,
    map,
    result,
    setkey,
    start_simulator,
    status,
)
from picloud.config import getconfigpath
from picloud.exceptions import (
    CloudException,
    CloudTimeoutError,
    ConfigError,
    DependencyFailed,
    InvalidJidError,
    InvalidOptionError,
    InvalidOptionTypeError,
    JobKilled,
    NoSuchJobError,
    PicklingFailure,
)
from picloud.jobs import JobStatus, finished_statuses
from picloud.runtime import running_on_cloud

# PiCloud's modules, reachable after a plain ``import cloud`` as they were there
from picloud import account, cron, files, pool_interface, rest  # noqa: E402  isort: skip

#: Pool names for ``_type``.
c1, c2, m1, s1 = "c1", "c2", "m1", "s1"

__all__ = [
    # jobs
    "call",
    "map",
    "result",
    "iresult",
    "join",
    "status",
    "info",
    "kill",
    "delete",
    # connection
    "connection_info",
    "is_simulated",
    "running_on_cloud",
    "close",
    "setkey",
    "start_simulator",
    "getconfigpath",
    # statuses and pools
    "JobStatus",
    "finished_statuses",
    "c1",
    "c2",
    "m1",
    "s1",
    # modules
    "files",
    "cron",
    "rest",
    "account",
    "pool_interface",
    # errors
    "CloudException",
    "CloudTimeoutError",
    "NoSuchJobError",
    "InvalidJidError",
    "InvalidOptionError",
    "InvalidOptionTypeError",
    "PicklingFailure",
    "JobKilled",
    "DependencyFailed",
    "ConfigError",
]
