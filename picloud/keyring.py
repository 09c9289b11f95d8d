"""API keys as the workers know them: a Redis hash per key holding the Ed25519 public key and
whether the key is active. The web UI keeps it in step with its ApiKey table."""

from __future__ import annotations

import secrets

import redis

from picloud import keys, signing


def new_secret() -> str:
    """A fresh api secret key (40 hex characters, like PiCloud's)."""
    return secrets.token_hex(20)


def publish(client: redis.Redis, api_key: str, public_key: str, active: bool) -> None:
    """Let workers verify ``api_key``'s jobs (or refuse them when it is not ``active``)."""
    client.hset(keys.api_key(api_key), mapping={"public": public_key, "active": int(active)})


def publish_secret(client: redis.Redis, api_key: str, secret: str) -> None:
    """``publish`` an active key from its secret (for tests and the embedded local key)."""
    publish(client, api_key, signing.public_key(secret), True)


def withdraw(client: redis.Redis, api_key: str) -> None:
    """Forget ``api_key``: workers refuse its jobs as from an unknown key."""
    client.delete(keys.api_key(api_key))
