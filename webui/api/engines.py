"""The server's ClusterEngines: one per (broker, api key, secret), kept for reuse, so requests
read and sign as the key their HTTP Basic credentials name. An engine as one key sees only that
key's jobs; the secret from the request signs what it submits (the server stores no secret)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator

from django.http import HttpRequest

from picloud import broker
from picloud.engines.cluster.engine import ClusterEngine

#: Engines kept open at once (the least recently used beyond this are closed).
MAX_ENGINES = 32


class _Entry:
    def __init__(self, engine: ClusterEngine) -> None:
        self.engine = engine
        #: ClusterEngine's submit/kill/delete keep per-client state: one request at a time.
        self.lock = threading.Lock()


_lock = threading.Lock()
_entries: OrderedDict[tuple[str, str, str], _Entry] = OrderedDict()


def _entry(request: HttpRequest) -> _Entry:
    key = request.api_key.key  # type: ignore[attr-defined]
    secret = request.api_secret  # type: ignore[attr-defined]
    url = broker.broker_url()
    token = (url, key, hashlib.sha256(secret.encode()).hexdigest())
    with _lock:
        found = _entries.get(token)
        if found is not None:
            _entries.move_to_end(token)
            return found
    made = _Entry(ClusterEngine(url, key, secret, open_pickles=False))  # connects: unlocked
    evicted: list[_Entry] = []
    with _lock:
        found = _entries.setdefault(token, made)
        _entries.move_to_end(token)
        while len(_entries) > MAX_ENGINES:
            evicted.append(_entries.popitem(last=False)[1])
    if found is not made:
        evicted.append(made)
    for entry in evicted:
        with entry.lock:
            entry.engine.close()
    return found


def engine_for(request: HttpRequest) -> ClusterEngine:
    """The engine of the request's api key, for reading (thread-safe reads)."""
    return _entry(request).engine


@contextlib.contextmanager
def engine_changing(request: HttpRequest) -> Iterator[ClusterEngine]:
    """The engine of the request's api key, held for a submit, kill or delete."""
    entry = _entry(request)
    with entry.lock:
        yield entry.engine


def close_all() -> int:
    """Close every kept engine (tests, shutdown); return how many."""
    with _lock:
        entries = list(_entries.values())
        _entries.clear()
    for entry in entries:
        with entry.lock:
            entry.engine.close()
    return len(entries)
