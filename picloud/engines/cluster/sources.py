"""Shipping the user's own modules with cluster jobs: the sources a manifest names and the
manifest itself, stored in Redis by content (sha256) under the submitting key, each file once
per version. They expire SOURCE_SECONDS after their last use; a client checks again (and keeps
them alive) once per RECHECK_SECONDS, so a long-lived client never sends one twice."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis

from picloud import dependencies, keys, signing
from picloud.exceptions import CloudException

#: How long a shipped file or manifest stays in Redis after the last submission that used it.
SOURCE_SECONDS = 7 * 24 * 3600
#: How often a client makes sure a file it shipped is still there.
RECHECK_SECONDS = 3600.0
#: The status of the error saying which files a submitter must send.
MISSING_SOURCES = "missing_sources"


class Sources:
    """What one client shipped for one api key, and when it last made sure of it."""

    def __init__(self, client: redis.Redis, api_key: str) -> None:
        self._redis = client
        self._key = api_key
        self._checked: dict[str, float] = {}

    def ship(self, manifest: dict[str, Any], provided: Mapping[str, bytes] | None = None) -> str:
        """Make sure Redis holds ``manifest`` and every file it names (their bytes from
        ``provided``, else from this process's picloud.dependencies); return the manifest's
        digest (what a job's message names it by). MissingSources names files neither has."""
        body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        digest = signing.digest(body)
        now = time.monotonic()
        wanted = {keys.bundle(self._key, digest): lambda: body}
        for entry in manifest.get("modules", {}).values():
            wanted[keys.source(self._key, entry["digest"])] = _reader(entry["digest"], provided)
        due = [k for k in wanted if now - self._checked.get(k, -RECHECK_SECONDS) >= RECHECK_SECONDS]
        if due:
            pipe = self._redis.pipeline(transaction=False)
            for name in due:
                pipe.expire(name, SOURCE_SECONDS)
            missing = [name for name, kept in zip(due, pipe.execute()) if not kept]
            if missing:
                bodies = {name: wanted[name]() for name in missing}
                absent = sorted(n.rpartition(":")[2] for n, body in bodies.items() if body is None)
                if absent:
                    raise MissingSources(absent)
                pipe = self._redis.pipeline(transaction=False)
                for name, body in bodies.items():
                    pipe.set(name, body, ex=SOURCE_SECONDS)
                pipe.execute()
            self._checked.update(dict.fromkeys(due, now))
        return digest


class MissingSources(CloudException):
    """Files a manifest names that the submitter must send (their digests: ``digests``)."""

    def __init__(self, digests: list[str]) -> None:
        names = ", ".join(d[:12] for d in digests)
        super().__init__(
            f"the sources of {len(digests)} file(s) of the job's own modules are missing "
            f"({names}): send them with the submission",
            status=MISSING_SOURCES,
        )
        self.digests = digests


def _reader(digest: str, provided: Mapping[str, bytes] | None) -> Callable[[], bytes | None]:
    """The bytes of file ``digest`` (None when neither ``provided`` nor this process has them;
    provided bytes count only when they are that file's)."""

    def read() -> bytes | None:
        if provided is not None and digest in provided:
            body = provided[digest]
            return body if signing.digest(body) == digest else None
        try:
            return dependencies.source(digest)
        except KeyError:
            return None

    return read
