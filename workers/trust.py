"""What a worker trusts: API keys and cron registrations as records the fleet authority signed
(picloud.authority), checked against the fleet's public key from this worker's configuration.

A record must be signed, unexpired, about the subject asked for, and no older than the newest
record of that subject this process has seen: read with a claim, or announced on
``TRUST_CHANNEL`` (each pool process listens, and the main process too, so processes it forks
later start knowing). So a deactivation cannot be undone by writing the older record back."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from picloud import authority, broker, config
from picloud.exceptions import CloudException

#: Verified records remembered (by their bytes and signature).
VERIFIED_CACHE_SIZE = 4096
NO_AUTHORITY = (
    "this worker has no fleet_public_key (PICLOUD_FLEET_PUBLIC_KEY, or fleet.json of a local "
    "fleet), so it trusts no API key"
)


def fleet_public_key() -> str:
    """The fleet authority's public key this process was configured with, else the local
    fleet's, else that of the authority this host holds ('' if none)."""
    found = config.current().fleet_public_key or broker.running_fleet_public_key()
    if found or not os.path.exists(authority.authority_file()):
        return found
    try:
        return authority.Authority.load().public_key
    except CloudException:
        return ""


def subject(record: dict[str, Any]) -> str:
    """What a record is about: ``apikey <key>`` or ``cron <key> <label>``."""
    if record.get("kind") == "cron":
        return f"cron {record.get('key')} {record.get('label')}"
    return f"{record.get('kind')} {record.get('key')}"


class Trust:
    """The records this process trusts (thread-safe)."""

    def __init__(self, public_key: str | None = None) -> None:
        self.public_key = fleet_public_key() if public_key is None else public_key
        self._newest: dict[str, float] = {}
        self._verified: dict[tuple[bytes, bytes | None], dict] = {}
        self._lock = threading.Lock()

    def record(self, about: str, data: bytes | None, signature: bytes | None) -> dict | str:
        """The trusted record ``about`` (a subject) stored as ``data`` + ``signature``, or why
        it is not trusted."""
        if not self.public_key:
            return NO_AUTHORITY
        if data is None:
            return "it has no record signed by the fleet authority"
        record = self._opened(data, signature)
        if record is None:
            return "its record is not signed by this fleet's authority"
        if subject(record) != about:
            return "its record is about something else"
        if float(record.get("expires", 0)) < time.time():
            return (
                "its record expired (the web UI re-signs every record hourly through "
                "`manage.py record`: is the recorder running?)"
            )
        at = float(record.get("at", 0))
        with self._lock:
            if at < self._newest.get(about, 0.0):
                return "its record is older than one this worker has seen (an old copy put back)"
            self._newest[about] = at
        return record

    def outdated(self, about: str, data: bytes | None, signature: bytes | None) -> bool:
        """True when ``data`` is a record of ``about`` older than the newest seen: an old copy
        put back, or a read that crossed the announcement of a newer one (read it again)."""
        record = None if data is None or not self.public_key else self._opened(data, signature)
        if record is None:
            return False
        with self._lock:
            return float(record.get("at", 0)) < self._newest.get(about, 0.0)

    def _opened(self, data: bytes, signature: bytes | None) -> dict | None:
        """``authority.opened``, remembering what verified (a key's record is read with every
        chunk; checking its signature again costs more than the rest of the claim)."""
        found = self._verified.get((data, signature))
        if found is None:
            found = authority.opened(self.public_key, data, signature)
            if found is not None:
                if len(self._verified) >= VERIFIED_CACHE_SIZE:
                    self._verified.clear()
                self._verified[(data, signature)] = found
        return found

    def learn(self, message: bytes) -> None:
        """Note an announced record (``<signature> <record>``) as the newest of its subject."""
        signature, _, data = message.partition(b" ")
        record = authority.opened(self.public_key, data, signature)
        if record is None or float(record.get("expires", 0)) < time.time():
            return
        about, at = subject(record), float(record.get("at", 0))
        with self._lock:
            if at > self._newest.get(about, 0.0):
                self._newest[about] = at

    def api_key(
        self, key: str, data: bytes | None, signature: bytes | None
    ) -> tuple[str | None, str | None]:
        """(``key``'s public key, None) when its jobs may run, else (None, why not: unknown,
        deactivated or untrusted)."""
        found = self.record(f"apikey {key}", data, signature)
        if isinstance(found, str):
            return None, f"API key {key!r} is not trusted: {found}"
        if not found.get("public"):
            return None, f"API key {key!r} is not known to this cluster"
        if found.get("active") is not True:
            return None, f"API key {key!r} is deactivated"
        return str(found["public"]), None

    def cron_grant(
        self, key: str, label: str, data: bytes | None, signature: bytes | None
    ) -> str | None:
        """The grant cron ``label`` of ``key`` is registered with, or None if it is not."""
        found = self.record(f"cron {key} {label}", data, signature)
        if isinstance(found, str):
            return None
        grant = found.get("grant")
        return str(grant) if grant else None


_trust: Trust | None = None
_trust_lock = threading.Lock()


def trust() -> Trust:
    """This process's Trust (a forked process keeps what its parent knew)."""
    global _trust
    with _trust_lock:
        if _trust is None:
            _trust = Trust()
        return _trust
