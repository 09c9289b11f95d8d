"""The worker's pool: Celery's prefork pool, whose processes are picloud's supervisors.

Each process takes chunks straight from Redis (workers.consumer), so Celery learns nothing of
a chunk it runs; when one dies, billiard's pool replaces it as for any process, and this pool
also hands its chunk on at once (workers.lost), from what its slot says: the job that was
running is charged an attempt, the jobs that never started go back to queued uncharged, ahead
of their queue. Set as ``worker_pool`` (workers.celery_app), so ``-P prefork`` means it too."""

from __future__ import annotations

import threading
from typing import Any

from celery.concurrency.asynpool import AsynPool
from celery.concurrency.prefork import TaskPool

from workers import lost, progress


class _SupervisorProcesses(AsynPool):
    """billiard's pool of processes, telling workers.lost of each one that exits; a process
    running a chunk counts as busy (the autoscaler shrinks the pool by idle ones only)."""

    def _worker_active(self, worker: Any) -> bool:
        return running(worker.pid) or super()._worker_active(worker)

    def _create_process_handlers(self, hub: Any) -> None:
        super()._create_process_handlers(hub)
        celery_down = self.on_process_down

        def on_process_down(process: Any) -> None:
            celery_down(process)
            # off the event loop: handing on takes a few Redis round trips
            threading.Thread(
                target=lost.hand_on,
                args=(process.pid, process.exitcode),
                name="picloud-lost-process",
                daemon=True,
            ).start()

        self.on_process_down = on_process_down


class SupervisorPool(TaskPool):
    """Celery's prefork TaskPool with supervisors for processes."""

    Pool = _SupervisorProcesses

    def pids(self) -> list[int]:
        """The pids of its live processes (no system call: what billiard last knew)."""
        processes = getattr(self._pool, "_pool", None) or []
        return [p.pid for p in list(processes) if p.pid]


def running(pid: int) -> bool:
    """True while pool process ``pid``'s slot says it runs a chunk."""
    found = progress.read(pid)
    return found is not None and found.first != 0
