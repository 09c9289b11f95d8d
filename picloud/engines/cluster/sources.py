"""Shipping the user's own modules with cluster jobs: the sources a manifest names and the
manifest itself, stored in Redis by content (sha256) under the submitting key, each file once
per version. They expire SOURCE_SECONDS after their last use; a client checks again (and keeps
them alive) once per RECHECK_SECONDS, so a long-lived client never sends one twice."""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from picloud import dependencies, keys, signing

#: How long a shipped file or manifest stays in Redis after the last submission that used it.
SOURCE_SECONDS = 7 * 24 * 3600
#: How often a client makes sure a file it shipped is still there.
RECHECK_SECONDS = 3600.0


class Sources:
    """What one client shipped for one api key, and when it last made sure of it."""

    def __init__(self, client: redis.Redis, api_key: str) -> None:
        self._redis = client
        self._key = api_key
        self._checked: dict[str, float] = {}

    def ship(self, manifest: dict[str, Any]) -> str:
        """Make sure Redis holds ``manifest`` and every file it names; return the manifest's
        digest (what a job's message names it by)."""
        body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        digest = signing.digest(body)
        now = time.monotonic()
        wanted = {keys.bundle(self._key, digest): lambda: body}
        for entry in manifest.get("modules", {}).values():
            wanted[keys.source(self._key, entry["digest"])] = _reader(entry["digest"])
        due = [k for k in wanted if now - self._checked.get(k, -RECHECK_SECONDS) >= RECHECK_SECONDS]
        if due:
            pipe = self._redis.pipeline(transaction=False)
            for name in due:
                pipe.expire(name, SOURCE_SECONDS)
            missing = [name for name, kept in zip(due, pipe.execute()) if not kept]
            if missing:
                pipe = self._redis.pipeline(transaction=False)
                for name in missing:
                    pipe.set(name, wanted[name](), ex=SOURCE_SECONDS)
                pipe.execute()
            self._checked.update(dict.fromkeys(due, now))
        return digest


def _reader(digest: str) -> Any:
    return lambda: dependencies.source(digest)
