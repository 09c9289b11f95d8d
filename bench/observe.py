"""What a system costs besides time: Redis commands (``INFO commandstats``) and the CPU of its
worker processes (``/proc``)."""

from __future__ import annotations

import os
from collections import Counter

import redis


class Commands:
    """Counts of the commands a Redis ran, read through one connection of its own (made
    at once, so that its handshake is not counted in what follows)."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._client.ping()

    def now(self) -> Counter[str]:
        """Calls per command so far (INFO and PING, this counter's own, excluded)."""
        stats = self._client.info("commandstats")
        counts = Counter(
            {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
        )
        for own in ("info", "ping"):
            counts.pop(own, None)
        return counts

    def close(self) -> None:
        self._client.close()


def delta(before: Counter[str], after: Counter[str]) -> Counter[str]:
    return Counter({name: after[name] - before.get(name, 0) for name in after}) - Counter()


def top(counts: Counter[str], per: float, k: int = 8) -> str:
    """The ``k`` most called commands, per ``per`` (jobs, seconds)."""
    return ", ".join(f"{name.upper()} {n / per:.1f}" for name, n in counts.most_common(k))


def cpu_seconds(groups: list[int]) -> float:
    """User + system CPU seconds used so far by every process of the process groups
    ``groups`` (a worker's main process, its pool, its sandboxes)."""
    ticks, wanted = 0, set(groups)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) in wanted:  # field 5 of stat: the process group
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")
