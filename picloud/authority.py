"""The fleet authority: one Ed25519 key pair whose signature makes an API key (its public key
and whether it is active) or a cron's registration something workers trust.

The secret half lives only where keys are issued (the web UI and ``make run``, in
``fleet-authority.key``); workers get the public half by configuration (``fleet_public_key``),
never from the broker. So whoever can write to Redis can neither mint a key nor revive a
deactivated one: a record must carry the authority's signature, and a worker refuses a record
older than one it has seen (``at``) or past its ``expires``.

A record is a JSON object: ``{"kind": "apikey", "key", "public", "active", "at", "expires"}``
or ``{"kind": "cron", "key", "label", "grant", "at", "expires"}`` (``public`` / ``grant`` null
once withdrawn). The web UI re-signs every record well before it expires
(``RECORD_SECONDS``; ``manage.py record`` does it every ``REFRESH_SECONDS``)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from picloud import config
from picloud.exceptions import CloudException

#: Versions the signed text of a record.
SCHEME = "picloud-record-1"
#: How long a signed record stays valid (seconds).
RECORD_SECONDS = 3 * 24 * 3600.0
#: How often the records are signed anew (``manage.py record``).
REFRESH_SECONDS = 3600.0
AUTHORITY_FILENAME = "fleet-authority.key"


def authority_file() -> str:
    """Where the authority's secret half is kept on this host."""
    configured = config.current().fleet_authority_file
    return configured or os.path.join(config.getconfigpath(), AUTHORITY_FILENAME)


def record_text(record: bytes) -> bytes:
    """What the authority signs: the scheme and the record's JSON bytes as stored."""
    return SCHEME.encode() + b"\n" + record


class Authority:
    """The secret half: signs records."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._key = private
        self.public_key = private.public_key().public_bytes_raw().hex()

    @classmethod
    def load(cls, path: str | None = None) -> Authority:
        """The authority kept at ``path`` (default ``authority_file()``); CloudException if it
        is missing or unreadable."""
        path = path or authority_file()
        try:
            with open(path, encoding="ascii") as handle:
                seed = bytes.fromhex(handle.read().strip())
            return cls(Ed25519PrivateKey.from_private_bytes(seed))
        except (OSError, ValueError) as exc:
            raise CloudException(
                f"cannot read the fleet authority's key at {path} ({exc}): it is made once by "
                "`make run` or `manage.py fleetkey` on the host that issues API keys"
            ) from None

    @classmethod
    def load_or_create(cls, path: str | None = None) -> Authority:
        """The authority at ``path``, made there (mode 0600) if there is none yet."""
        path = path or authority_file()
        if not os.path.exists(path):
            seed = Ed25519PrivateKey.generate().private_bytes_raw()
            os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
            partial = f"{path}.{os.getpid()}.tmp"
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(seed.hex() + "\n")
            try:
                os.link(partial, path)  # never over one another process made meanwhile
            except FileExistsError:
                pass
            finally:
                os.unlink(partial)
        return cls.load(path)

    def sign(self, **fields: Any) -> tuple[bytes, str]:
        """A record of ``fields`` stamped now (``at``, ``expires``) and its signature (hex)."""
        now = time.time()
        record = {**fields, "at": now, "expires": now + RECORD_SECONDS}
        data = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        return data, self._key.sign(record_text(data)).hex()


def opened(public_hex: str, data: bytes | None, signature: bytes | str | None) -> dict | None:
    """The record ``data`` if ``signature`` is the authority's over it (any age), else None."""
    if not data or not signature or not public_hex:
        return None
    if isinstance(signature, bytes):
        signature = signature.decode("ascii", "replace")
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
        key.verify(bytes.fromhex(signature), record_text(data))
        record = json.loads(data)
    except (InvalidSignature, ValueError):
        return None
    return record if isinstance(record, dict) else None
