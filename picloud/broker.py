"""Finding and reaching the cluster's Redis broker (configured, or a running local fleet)."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from picloud import config, defaults
from picloud.exceptions import CloudException

#: Written by ``make run`` (picloud.fleet) while a local fleet runs: {"broker_url": ...}.
FLEET_FILE = "fleet.json"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
#: Seconds to wait for a TCP connection to the broker.
CONNECT_TIMEOUT = 3.0


def fleet_file() -> str:
    return os.path.join(config.getconfigpath(), FLEET_FILE)


def _fleet() -> dict[str, Any]:
    """What fleet.json says (nothing when no local fleet runs or the file is unreadable)."""
    try:
        with open(fleet_file(), encoding="utf-8") as handle:
            found = json.load(handle)
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def running_fleet_url() -> str | None:
    """The broker URL of the local fleet ``make run`` started, if its file is there."""
    url = _fleet().get("broker_url")
    return None if url is None else str(url)


def running_fleet_credentials() -> tuple[str, str] | None:
    """The (api_key, api_secretkey) the local fleet made for this machine's user, if any."""
    found = _fleet()
    if "api_key" not in found or "api_secretkey" not in found:
        return None
    return str(found["api_key"]), str(found["api_secretkey"])


def running_fleet_public_key() -> str:
    """The fleet authority's public key of the local fleet ``make run`` started, or ''."""
    return str(_fleet().get("fleet_public_key", ""))


def running_fleet_server_url() -> str:
    """The web UI URL of the local fleet ``make run`` started, or ''."""
    return str(_fleet().get("server_url", ""))


def credentials(settings: config.Settings) -> tuple[str, str]:
    """(api_key, api_secretkey) to act as: the settings', else (no key set) the local fleet's."""
    if settings.api_key == defaults.API_KEY:
        fleet = running_fleet_credentials()
        if fleet is not None:
            return fleet
    return settings.api_key, settings.api_secretkey


def through_server(settings: config.Settings) -> bool:
    """Whether jobs and files go to the fleet through server_url: no broker configured, but a
    server and an api key with its secret (a user off the cluster's network, as PiCloud's
    were)."""
    if settings.use_simulator or not settings.server_url or configured_broker_url():
        return False
    key, secret = credentials(settings)
    return key != defaults.API_KEY and secret != defaults.API_SECRETKEY


def configured_broker_url() -> str | None:
    """PICLOUD_BROKER_URL / cloudconf.py's broker_url, else a running local fleet's."""
    return config.current().broker_url or running_fleet_url()


def broker_url() -> str:
    """The broker workers and clients use (the default local Redis when nothing is set)."""
    return configured_broker_url() or DEFAULT_BROKER_URL


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


#: Values at least this large are handed to redis-py as memoryviews: it then writes them to
#: the socket as they are, where its hiredis packer would first copy every argument into one
#: buffer (15 ms for a 10 MB result on this project's machine).
ZERO_COPY_BYTES = 64 << 10


def zero_copy(value: Any) -> Any:
    """``value``, as a memoryview when it is bytes (or a bytearray: a large frame read from a
    sandbox) of ZERO_COPY_BYTES or more."""
    if isinstance(value, (bytes, bytearray)) and len(value) >= ZERO_COPY_BYTES:
        return memoryview(value)
    return value


def client(url: str, read_timeout: float | None = None) -> redis.Redis:
    """A client for ``url``; it connects on its first command (workers retry through broker
    faults: picloud.engines.cluster.patience). ``read_timeout``: seconds a reply may take, for
    blocking commands that wait longer than redis-py's default (5 s)."""
    extra = {} if read_timeout is None else {"socket_timeout": read_timeout}
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_keepalive=True,
        health_check_interval=30,
        **extra,
    )


def connect(url: str, read_timeout: float | None = None) -> redis.Redis:
    """A client for ``url`` that fails fast (CloudException naming the broker) when it is
    unreachable."""
    made = client(url, read_timeout)
    try:
        made.ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise CloudException(f"cannot reach the broker at {redact(url)}: {exc}") from None
    return made
