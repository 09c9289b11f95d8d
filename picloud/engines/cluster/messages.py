"""Chunk messages and the queues they wait in.

A chunk's message is its spec as JSON: the function's digest, options, queue, api key, first
jid and count, signed by the submitting key (picloud.signing). It is stored with the chunk
(``keys.chunk_message``), and the chunk id waits in its queue's sorted set, where a pool
process takes it and claims its jobs in one step (lua/take.lua). A queued chunk's score is its
priority times PRIORITY_SPAN plus its place in that priority, by its first jid (lua/prelude.lua's
``enqueue``), so the lowest score is served first."""

from __future__ import annotations

#: Priorities: 0 (served first) to 9.
MAX_PRIORITY = 9
#: The score span of one priority in a queue's sorted set (lua/prelude.lua's SPAN).
PRIORITY_SPAN = 10**14


def queue_name(job_type: str, env: str | None) -> str:
    """``_type`` and ``_env`` to a queue: ``c2``, ``c2.myenv``."""
    return f"{job_type}.{env}" if env else job_type


def priority_step(priority: int) -> int:
    """A job's ``_priority`` as a queue priority (0..MAX_PRIORITY)."""
    return min(max(priority, 0), MAX_PRIORITY)


def score_range(priority: int) -> tuple[int, str]:
    """The ZCOUNT bounds of ``priority``'s chunks in a queue's sorted set."""
    low = priority * PRIORITY_SPAN
    return low, f"({low + PRIORITY_SPAN}"
