"""API keys as the workers know them: a Redis hash per key holding a record the fleet authority
signed (picloud.authority): the key's Ed25519 public key and whether it is active. The web UI
keeps it in step with its ApiKey table and announces each change on ``TRUST_CHANNEL``."""

from __future__ import annotations

import secrets
from typing import Any

from picloud import keys, signing
from picloud.authority import Authority


def new_secret() -> str:
    """A fresh api secret key (40 hex characters, like PiCloud's)."""
    return secrets.token_hex(20)


def announce(client: Any, store_key: str, data: bytes, signature: str) -> None:
    """Store a signed record under ``store_key`` and tell running workers at once (a worker
    never goes back to an older record than the newest it was told of)."""
    client.hset(store_key, mapping={"record": data, "sig": signature})
    client.publish(keys.TRUST_CHANNEL, signature.encode() + b" " + data)


def publish(
    client: Any, authority: Authority, api_key: str, public_key: str | None, active: bool
) -> None:
    """Let workers verify ``api_key``'s jobs (or refuse them when it is not ``active``).
    ``client``: a Redis client or pipeline."""
    data, signature = authority.sign(kind="apikey", key=api_key, public=public_key, active=active)
    announce(client, keys.api_key(api_key), data, signature)


def publish_secret(client: Any, authority: Authority, api_key: str, secret: str) -> None:
    """``publish`` an active key from its secret (for tests and the embedded local key)."""
    publish(client, authority, api_key, signing.public_key(secret), True)


def withdraw(client: Any, authority: Authority, api_key: str) -> None:
    """Forget ``api_key``: workers refuse its jobs as from an unknown key. A signed tombstone,
    not a deletion, so that the older record cannot be put back."""
    publish(client, authority, api_key, None, False)
