"""``info()`` fields of one local job, read from the job table and its output files."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from picloud import accounting, defaults, serialization
from picloud.engines.local.output import read_tail
from picloud.engines.local.table import Batch, JobTable
from picloud.engines.local.workers import WorkerProcess
from picloud.jobs import JobStatus


def _when(timestamp: float) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None


def job_info(
    table: JobTable,
    jid: int,
    status: JobStatus,
    worker: WorkerProcess | None,
    fields: Sequence[str],
    outdir: str | None,
) -> dict[str, Any]:
    """The requested fields of job ``jid`` (status already resolved by the engine)."""
    batch, index = table.locate(jid)
    started = worker.started if worker is not None else batch.started[index]
    used = batch.usage[index] if status.finished else None
    usage = None if used is None else accounting.Usage(*used)
    groups = accounting.info_groups(usage, batch.runtime[index], False)
    out: dict[str, Any] = accounting.requested(groups, fields)
    for field in fields:
        if field in out:
            continue
        if field == "status":
            out[field] = status.value
        elif field in ("stdout", "stderr"):
            if outdir is not None:
                out[field] = read_tail(outdir, jid, field, defaults.OUTPUT_TAIL_CHARS)
        elif field == "runtime":
            out[field] = _runtime(batch, index, status, started)
        elif field == "started":
            out[field] = _when(started)
        elif field == "worker":
            pid = worker.pid if worker is not None else batch.workers.get(index)
            out[field] = f"local pid {pid}" if pid else None
        elif field == "attempts":
            out[field] = 1 if started else 0
        else:
            out[field] = _static_field(batch, index, field)
    return out


def _runtime(batch: Batch, index: int, status: JobStatus, started: float) -> float | None:
    if status == JobStatus.PROCESSING and started:
        return time.time() - started
    if status.finished and started:
        return batch.runtime[index]
    return None


def _static_field(batch: Batch, index: int, field: str) -> Any:
    """Fields that do not change while the job runs."""
    options = batch.options
    submission = batch.submission
    if field == "exception":
        return batch.exceptions.get(index)
    if field == "created":
        return _when(batch.created)
    if field == "finished":
        return _when(batch.finished[index])
    if field == "function":
        return submission.func_name
    if field in ("args", "kwargs"):
        args, kwargs = serialization.loads(submission.args_blobs[index])
        return args if field == "args" else kwargs
    if field == "func_body":
        return serialization.loads(submission.func_blob)
    if field == "profile":
        return batch.profiles.get(index)
    if field == "attributes":
        return options.attributes
    if field == "depends_on":
        return list(options.depends_on)
    simple = {
        "label": options.label,
        "env": options.env,
        "vol": list(options.vol),
        "priority": options.priority,
        "type": options.type,
        "queue": options.type,
    }
    return simple.get(field)
