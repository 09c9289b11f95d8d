"""The one Celery task picloud sends: run a chunk of jobs."""

from __future__ import annotations

import sys
from typing import Any

import billiard.pool

from picloud.engines.cluster.messages import TASK_NAME
from workers.celery_app import app
from workers.chunk import ChunkRun
from workers.context import worker_context


@app.task(name=TASK_NAME, bind=True, ignore_result=True, Request="workers.request:ChunkRequest")
def run_chunk(self: Any, spec: dict[str, Any]) -> None:
    """Run the jobs of chunk ``spec['chunk']`` (jids ``first`` .. ``first+count-1``)."""
    if ChunkRun(spec, worker_context(self.request.hostname)).run():
        retire_after_task()


def retire_after_task() -> None:
    """End this pool process once the task's result is handed over (``_kill_process``, or a
    job was killed), so that Celery starts a fresh one without a WorkerLostError.

    billiard replaces a process after a task when its memory check says it grew too large;
    reporting an unbounded size makes that check retire this one."""
    billiard.pool.mem_rss = lambda: sys.maxsize
