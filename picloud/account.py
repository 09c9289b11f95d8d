"""cloud.account: a web UI user's API keys, managed over the HTTP API at ``server_url`` with
the user's web UI (Django) username and password.

Differences from PiCloud: secrets are never stored, so ``get_key`` and ``get_key_by_key``
return ``api_secretkey`` None (only ``create_key`` returns the new secret, once);
``private_key`` is always None; the dicts also hold ``active`` and ``note`` (the key's
description). Keys made of digits are ints, as PiCloud's were; other keys stay str.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from picloud import broker, config
from picloud.http import ApiClient

__all__ = [
    "list_keys",
    "get_key",
    "get_key_by_key",
    "create_key",
    "activate_key",
    "deactivate_key",
]


def _client(username: Any, password: Any) -> ApiClient:
    server_url = config.current().server_url or broker.running_fleet_server_url()
    return ApiClient(server_url, str(username), str(password))


def _key_path(api_key: Any) -> str:
    return f"api/account/keys/{quote(str(api_key), safe='')}/"


def list_keys(username: str, password: str, active_only: bool = False) -> list[Any]:
    """All the user's api keys (only the active ones if ``active_only``)."""
    with _client(username, password) as client:
        params = {"active_only": "true" if active_only else "false"}
        return client.request("GET", "api/account/keys/", params=params)["api_keys"]


def get_key(username: str, password: str, api_key: Any) -> dict[str, Any]:
    """``{'api_key', 'api_secretkey' (None: never stored), 'private_key', 'active', 'note'}``
    of one of the user's keys; CloudException if the user has no such key."""
    with _client(username, password) as client:
        return client.request("GET", _key_path(api_key))["key"]


def get_key_by_key(api_key: Any, api_secretkey: str) -> dict[str, Any]:
    """Like ``get_key``, authenticated by the key itself."""
    with _client(api_key, api_secretkey) as client:
        return client.request("GET", "api/account/key/")["key"]


def create_key(username: str, password: str) -> dict[str, Any]:
    """A new active key for the user: the dict of ``get_key`` with its ``api_secretkey`` (the
    only time the secret is shown)."""
    with _client(username, password) as client:
        return client.request("POST", "api/account/keys/")["key"]


def activate_key(username: str, password: str, api_key: Any) -> bool:
    """Activate one of the user's keys; True."""
    with _client(username, password) as client:
        client.request("POST", _key_path(api_key) + "activate/")
    return True


def deactivate_key(username: str, password: str, api_key: Any) -> bool:
    """Deactivate one of the user's keys (its queued jobs fail, its logins stop); True."""
    with _client(username, password) as client:
        client.request("POST", _key_path(api_key) + "deactivate/")
    return True
