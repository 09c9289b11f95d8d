"""``cloud.mp``: the API on local worker processes, always, with its own jids."""

from __future__ import annotations

from picloud import config, runtime
from picloud.client import Cloud
from picloud.engines.base import Engine
from picloud.engines.local.engine import LocalEngine
from picloud.engines.relay import RelayEngine
from picloud.jobs import finished_statuses


def _engine() -> Engine:
    """Local processes; inside a job of the local engine, the engine running it."""
    if runtime.parent is not None:
        return RelayEngine(runtime.parent, runtime.parent_type)
    settings = config.first_use()
    return LocalEngine(
        settings.effective_num_procs, "multiprocessing", settings.redirect_job_output
    )


_cloud = Cloud(_engine, lambda: runtime.parent_type or "multiprocessing")

call = _cloud.call
map = _cloud.map
status = _cloud.status
result = _cloud.result
iresult = _cloud.iresult
join = _cloud.join
kill = _cloud.kill
info = _cloud.info
delete = _cloud.delete
connection_info = _cloud.connection_info
close = _cloud.close
is_simulated = _cloud.is_simulated

__all__ = [
    "call",
    "map",
    "status",
    "result",
    "iresult",
    "join",
    "kill",
    "info",
    "delete",
    "connection_info",
    "close",
    "is_simulated",
    "finished_statuses",
]
