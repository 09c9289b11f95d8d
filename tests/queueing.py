"""Chunks queued by hand, as submit.lua queues them: a stored message and the chunk's place in
its queue (with a wake-up token), for tests that forge, hold back or move messages."""

from __future__ import annotations

import itertools
import json
from typing import Any

import redis

from picloud import keys
from picloud.engines.cluster.messages import PRIORITY_SPAN, score_range

#: lua/prelude.lua's offset of a chunk's place within its priority
_MIDDLE = PRIORITY_SPAN // 2
#: the places of chunks placed with no stored message (after any real jid)
_STAND_INS = itertools.count(10**12)


def place(client: redis.Redis, queue: str, chunk: str, priority: int = 0) -> None:
    """Put ``chunk`` in ``queue`` at ``priority``, by its first jid (a chunk with no stored
    message after every other), and ring the queue's bell."""
    first = client.hget(keys.chunk_message(chunk), "first")
    order = int(first) if first is not None else next(_STAND_INS)
    client.zadd(keys.queue(queue), {chunk: score_range(priority)[0] + _MIDDLE + order})
    client.lpush(keys.bell(queue), 1)


def queue_chunk(
    client: redis.Redis,
    chunk: str,
    message: dict[str, Any] | str,
    *,
    first: int,
    count: int = 1,
    key: str | None = None,
    queue: str = "c1",
    priority: int = 0,
) -> None:
    """Store chunk ``chunk``'s message (a spec, or any text) for jobs ``first`` ..
    ``first+count-1`` of ``key`` (None: the chunk names no key), and queue it."""
    text = message if isinstance(message, str) else json.dumps(message)
    fields: dict[str, Any] = {"queue": queue, "priority": priority, "message": text}
    fields.update(first=first, count=count, **({} if key is None else {"key": key}))
    client.hset(keys.chunk_message(chunk), mapping=fields)
    place(client, queue, chunk, priority)


def take_all(client: redis.Redis, queue: str) -> list[tuple[str, int]]:
    """Take every chunk off ``queue`` (and its tokens): (chunk id, priority) in queue order."""
    taken = client.zrange(keys.queue(queue), 0, -1, withscores=True)
    client.delete(keys.queue(queue), keys.bell(queue))
    return [(chunk.decode(), int(score) // PRIORITY_SPAN) for chunk, score in taken]


def message_of(client: redis.Redis, chunk: str) -> dict[str, Any]:
    """The spec a chunk's stored message says."""
    return json.loads(client.hget(keys.chunk_message(chunk), "message"))


def set_payload(client: redis.Redis, chunk: str, payload: bytes) -> None:
    """Replace chunk ``chunk``'s payload where it is kept: in its hash, or under its own key."""
    if client.hexists(keys.chunk_message(chunk), "payload"):
        client.hset(keys.chunk_message(chunk), "payload", payload)
    else:
        client.set(keys.chunk(chunk), payload)
