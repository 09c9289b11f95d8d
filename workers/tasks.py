"""The one Celery task picloud sends: run a chunk of jobs."""

from __future__ import annotations

from typing import Any

from picloud.engines.cluster.messages import TASK_NAME
from workers.celery_app import app
from workers.chunk import ChunkRun
from workers.context import worker_context


@app.task(name=TASK_NAME, bind=True, ignore_result=True, Request="workers.request:ChunkRequest")
def run_chunk(self: Any, spec: dict[str, Any]) -> None:
    """Run the jobs of chunk ``spec['chunk']`` (jids ``first`` .. ``first+count-1``)."""
    ChunkRun(spec, worker_context(self.request.hostname)).run()
