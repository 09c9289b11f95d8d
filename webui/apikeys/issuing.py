"""Making API keys: a fresh key id and secret; only the secret's slow hash and its Ed25519
public key are stored. The secret is returned once, to be shown once."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction

from picloud import keyring, signing
from webui.apikeys.models import ApiKey

#: PiCloud's api keys were small numbers; ours are 7 digits, picked at random.
KEY_DIGITS = 7


def new_key_id() -> str:
    return str(10 ** (KEY_DIGITS - 1) + secrets.randbelow(9 * 10 ** (KEY_DIGITS - 1)))


def set_secret(api_key: ApiKey, secret: str) -> None:
    """Store what the server may know of ``secret``: its hash and its public key."""
    api_key.secret_hash = make_password(secret)
    api_key.public_key = signing.public_key(secret)


def issue_key(secret: str | None = None, **fields: Any) -> tuple[ApiKey, str]:
    """Create an active key (``fields``: description, user, key); return it and its secret."""
    secret = secret or keyring.new_secret()
    wanted = fields.pop("key", None)
    for _ in range(20):
        api_key = ApiKey(key=wanted or new_key_id(), **fields)
        set_secret(api_key, secret)
        try:
            with transaction.atomic():
                api_key.save()
            return api_key, secret
        except IntegrityError:
            if wanted:
                raise ValueError(f"API key {wanted!r} already exists") from None
    raise RuntimeError("could not find a free API key id")


def authenticate(key: str, secret: str) -> ApiKey | None:
    """The active key ``key`` if ``secret`` is its secret, else None."""
    found = ApiKey.objects.filter(key=key, active=True).first()
    if found is None or not check_password(secret, found.secret_hash):
        return None
    return found
