"""The module-level ``cloud.*`` API: one default Cloud (on the simulator unless a cluster is
configured), ``cloud.setkey`` and ``cloud.config``."""

from __future__ import annotations

import logging
from typing import Any

from picloud import broker, config, defaults, mp, runtime
from picloud.client import Cloud
from picloud.config import Settings
from picloud.engines.base import Engine
from picloud.engines.cluster.engine import ClusterEngine
from picloud.engines.local.engine import LocalEngine
from picloud.engines.relay import RelayEngine
from picloud.exceptions import ConfigError

log = logging.getLogger("picloud")
_announced = False
#: True while start_simulator() holds the default cloud on the simulator.
_simulator_started = False
#: Secrets given to setkey in this process, by api key.
_secrets: dict[str, str] = {}


def _simulator() -> Engine:
    global _announced
    settings = config.first_use()
    if not _announced:
        log.info(
            "no cluster configured; jobs run on the local simulator (%d worker processes)",
            settings.effective_num_procs,
        )
        _announced = True
    redirect = settings.redirect_job_output or settings.force_redirect_job_output
    return LocalEngine(settings.effective_num_procs, "simulation", redirect)


def _simulation() -> str:
    return "simulation"


def _default_engine() -> Engine:
    """Inside a job: the job's supervisor (as the job's key), or the local engine running it.
    Else the cluster when a broker is configured or a local fleet runs, else the simulator."""
    if runtime.supervisor is not None:
        return RelayEngine(runtime.supervisor, "cluster")
    if runtime.parent is not None:
        return RelayEngine(runtime.parent, runtime.parent_type)
    settings = config.first_use()
    url = None if settings.use_simulator else broker.configured_broker_url()
    key, secret = broker.credentials(settings)
    if url is not None:
        return ClusterEngine(url, key, secret)
    if broker.through_server(settings):
        from picloud.engines.http import HttpEngine

        return HttpEngine(settings.server_url, key, secret)
    return _simulator()


def _default_type() -> str:
    if runtime.supervisor is not None:
        return "cluster"
    if runtime.parent is not None:
        return runtime.parent_type
    settings = config.current()
    configured = not settings.use_simulator and broker.configured_broker_url()
    return "cluster" if configured or broker.through_server(settings) else "simulation"


_cloud = Cloud(_default_engine, _default_type)


def start_simulator(force_restart: bool = False) -> None:
    """Run jobs on the local simulator from now on (restarting it if ``force_restart``)."""
    global _simulator_started
    if force_restart or _cloud.connection_info()["connection_type"] != "simulation":
        _cloud.switch(_simulator, _simulation)
    _simulator_started = True


def reconnect() -> None:
    """Close ``cloud`` and ``cloud.mp``: the next call opens them with the settings in force
    (their jobs on the simulator and local processes are gone)."""
    global _simulator_started
    _cloud.switch(_default_engine, _default_type)
    _simulator_started = False
    mp.close()


def setkey(
    api_key: Any,
    api_secretkey: str | None = None,
    server_url: str | None = None,
    restart: bool = False,
    immutable: bool = False,
) -> None:
    """Use ``api_key`` from now on (in this process; cloudconf.py is not changed).

    Parameters
    ----------
    api_key:
        The key (PiCloud's were ints; any value is kept as its str).
    api_secretkey:
        Its secret. Leave it out for a key this process used before, the key of cloudconf.py or
        of ``PICLOUD_API_KEY``, or the local fleet's key; otherwise ConfigError.
    server_url:
        The picloud server (web UI and HTTP API); None keeps the one configured.
    restart:
        Reconnect even if nothing changed. The connection also restarts when the key, secret or
        server changes, or the simulator was in use: setkey turns the simulator off.
    immutable:
        Refuse every later change of the key (setkey or cloud.config raise ConfigError).
    """
    key = str(api_key)
    settings = config.current()
    changes: dict[str, Any] = {
        "api_key": key,
        "api_secretkey": _secret_for(key, api_secretkey, settings),
        "use_simulator": False,
    }
    if server_url is not None:
        changes["server_url"] = server_url
    updated = config.apply(**changes)
    _secrets[key] = updated.api_secretkey
    if immutable:
        config.freeze_key()
    if restart or updated != settings or _simulator_started:
        reconnect()


def _secret_for(key: str, given: str | None, settings: Settings) -> str:
    if given is not None:
        return str(given)
    if key in _secrets:
        return _secrets[key]
    for source in (settings, Settings.load()):  # in force, and as cloudconf.py/env give it
        if key == source.api_key and source.api_secretkey != defaults.API_SECRETKEY:
            return source.api_secretkey
    fleet = broker.running_fleet_credentials()
    if fleet is not None and fleet[0] == key:
        return fleet[1]
    raise ConfigError(
        f"api_secretkey for key {key} not found. Please run picloud setup, "
        "or pass api_secretkey to cloud.setkey"
    )


def connection_info() -> dict[str, Any]:
    """What the default connection is and uses: ``opened``, ``connection_type``; on the
    simulator ``num_procs``; on the cluster ``transport`` ('broker', or 'http' through
    server_url), ``broker_url``, ``api_key``, ``api_secretkey`` and ``server_url``. Secrets and
    passwords show as ``***``."""
    info = dict(_cloud.connection_info())
    settings = config.current()
    if info["connection_type"] == "cluster":
        key, secret = broker.credentials(settings)
        info.setdefault("transport", "http" if broker.through_server(settings) else "broker")
        if info["transport"] == "broker":
            info.setdefault("broker_url", broker.redact(broker.configured_broker_url() or ""))
        info.setdefault("api_key", key)
        info["api_secretkey"] = "***" if secret != defaults.API_SECRETKEY else None
        info["server_url"] = broker.redact(settings.server_url or broker.running_fleet_server_url())
    else:
        info.setdefault("num_procs", settings.effective_num_procs)
    return info


class ConfigSettings:
    """``cloud.config``: every setting as an attribute. Assignments are checked at once (a bad
    value or unknown name raises ConfigError naming it) and take effect on ``commit()``."""

    def __init__(self) -> None:
        object.__setattr__(self, "_pending", {})

    def __setattr__(self, name: str, value: Any) -> None:
        settings = config.current()
        updated = settings.replace(**{**self._pending, name: value})
        config.check_key_change(settings, updated)
        self._pending[name] = getattr(updated, name)

    def __dir__(self) -> list[str]:
        return [*config.SETTING_NAMES, "commit"]

    def __repr__(self) -> str:
        return f"<cloud.config: {len(self._pending)} uncommitted change(s)>"

    def commit(self) -> None:
        """Apply the assigned settings, then restart every active cloud.

        Warning: this restarts ``cloud`` and ``cloud.mp``, wiping their simulator and local jobs
        (as in PiCloud). A key set with ``cloud.setkey`` stays in force."""
        changes = dict(self._pending)
        settings = config.apply(**changes)
        self._pending.clear()
        config.apply_logging(settings)
        reconnect()


def _setting(name: str) -> property:
    def get(self: ConfigSettings) -> Any:
        return self._pending.get(name, getattr(config.current(), name))

    return property(get, doc=config.setting_docs().get(name))


for _name in config.SETTING_NAMES:
    setattr(ConfigSettings, _name, _setting(_name))

#: ``cloud.config`` (``picloud.config`` is the module of settings, so the name differs here).
cloud_config = ConfigSettings()

call = _cloud.call
map = _cloud.map
status = _cloud.status
result = _cloud.result
iresult = _cloud.iresult
join = _cloud.join
kill = _cloud.kill
info = _cloud.info
delete = _cloud.delete
close = _cloud.close
is_simulated = _cloud.is_simulated
