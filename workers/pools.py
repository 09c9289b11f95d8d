"""The worker pools (PiCloud's core types) and each one's limits, in one table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pool:
    """One pool: the queue it consumes and the limits of its worker processes."""

    name: str
    #: processes per worker machine (0 = one per CPU core)
    concurrency: int
    #: memory a job may use (MB): its sandbox's limit while it runs
    memory_per_child_mb: int
    description: str
    #: processes (and threads) a job may run at once
    processes: int = 256
    #: files a job's process may hold open at once
    open_files: int = 1024

    @property
    def max_memory_per_child_kb(self) -> int:
        return self.memory_per_child_mb * 1024

    def limits(self) -> dict[str, int]:
        """What a sandbox of this pool is confined to (picloud.sandbox.confine)."""
        return {
            "memory_mb": self.memory_per_child_mb,
            "processes": self.processes,
            "open_files": self.open_files,
        }


POOLS: dict[str, Pool] = {
    "c1": Pool("c1", 0, 300, "1 compute unit, 300 MB per job (default)"),
    "c2": Pool("c2", 0, 800, "2.5 compute units, 800 MB per job"),
    "m1": Pool("m1", 0, 8192, "3.25 compute units, 8 GB per job", processes=1024, open_files=4096),
    "s1": Pool("s1", 0, 300, "up to 2 compute units, 300 MB per job"),
}


def pool_for_queue(queue: str) -> Pool:
    """The pool a queue belongs to: ``c2`` and ``c2.myenv`` are both c2."""
    return POOLS[queue.split(".", 1)[0]]


def worker_command(
    queue: str, concurrency: int | None = None, autoscale: tuple[int, int] | None = None
) -> list[str]:
    """The documented command line that starts a worker for ``queue`` (``c1``, ``c2.myenv``);
    ``autoscale`` (min, max processes) replaces the concurrency."""
    pool = pool_for_queue(queue)
    command = [
        "celery",
        "-A",
        "workers",
        "worker",
        "-Q",
        queue,
        "-n",
        f"{queue}@%h",
        "--max-memory-per-child",
        str(pool.max_memory_per_child_kb),
        "--without-gossip",
        "--without-mingle",
        "-l",
        "INFO",
    ]
    if autoscale is not None:
        least, most = autoscale
        return [*command, f"--autoscale={most},{least}"]  # Celery's order: max first
    processes = concurrency if concurrency is not None else pool.concurrency
    if processes:
        command += ["-c", str(processes)]
    return command
