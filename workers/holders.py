"""Who holds a chunk: its claim's owner, ``node@host/pid`` (a worker node and one of its pool
processes), and what this host can tell of that process."""

from __future__ import annotations

import socket

from workers import progress


def local_pid(owner: str) -> int | None:
    """The pid in ``owner`` when that process is of this host, else None."""
    node, _, pid = owner.rpartition("/")
    if node.rpartition("@")[2] != socket.gethostname() or not pid.isdigit():
        return None
    return int(pid)


def is_pool_process(pid: int) -> bool:
    """True while ``pid`` is a live worker process (a Celery command line)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"celery" in handle.read()
    except OSError:
        return False


def runs(pid: int, first: int) -> bool:
    """True when process ``pid``'s slot says it runs the chunk starting at ``first`` now (a
    process that gave the chunk up, or lost the reply to its claim, does not hold it)."""
    found = progress.read(pid)
    return found is not None and found.first == first
