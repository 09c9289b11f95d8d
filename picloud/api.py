"""The module-level ``cloud.*`` functions: one default Cloud, on the simulator unless a cluster
is configured."""

from __future__ import annotations

import logging

from picloud import broker, config
from picloud.client import Cloud
from picloud.engines.base import Engine
from picloud.engines.cluster.engine import ClusterEngine
from picloud.engines.local.engine import LocalEngine

log = logging.getLogger("picloud")
_announced = False


def _simulator() -> Engine:
    global _announced
    settings = config.current()
    if not _announced:
        log.info(
            "picloud: no cluster configured; jobs run on the local simulator (%d worker processes)",
            settings.effective_num_procs,
        )
        _announced = True
    return LocalEngine(settings.effective_num_procs, "simulation", settings.redirect_job_output)


def _simulation() -> str:
    return "simulation"


def _default_engine() -> Engine:
    """The cluster when a broker is configured or a local fleet runs, else the simulator."""
    settings = config.current()
    url = None if settings.use_simulator else broker.configured_broker_url()
    if url is None:
        return _simulator()
    return ClusterEngine(url, settings.api_key)


def _default_type() -> str:
    settings = config.current()
    configured = not settings.use_simulator and broker.configured_broker_url()
    return "cluster" if configured else "simulation"


_cloud = Cloud(_default_engine, _default_type)


def start_simulator(force_restart: bool = False) -> None:
    """Run jobs on the local simulator from now on (restarting it if ``force_restart``)."""
    if force_restart or _cloud.connection_info()["connection_type"] != "simulation":
        _cloud.switch(_simulator, _simulation)


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
