"""``info()`` fields of cluster jobs, read from Redis in two pipelines."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis

from picloud import accounting, defaults, keys, serialization
from picloud.accounting import Usage
from picloud.exceptions import NoSuchJobError
from picloud.jobs import JobStatus

_TIMES = ("created", "started", "finished")
#: A pool is served if one of its workers reported within this many seconds.
POOL_ALIVE_SECONDS = 30.0


def _text(value: bytes | None) -> str | None:
    return value.decode("utf-8", errors="replace") if value is not None else None


def _when(value: bytes | None) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None


def read_info(
    client: redis.Redis,
    jids: Sequence[int],
    fields: Sequence[str],
    who: str = keys.ANY_OWNER,
    open_pickles: bool = True,
) -> dict[int, dict[str, Any]]:
    """``{jid: {field: value}}`` of jobs api key ``who`` may see; NoSuchJobError for an unknown
    jid or another key's. ``open_pickles=False``: ``args``/``kwargs`` are the job's pickled
    (args, kwargs) and ``func_body`` its pickled function (nothing of the user is unpickled)."""
    pipe = client.pipeline(transaction=False)
    for jid in jids:
        pipe.hgetall(keys.job(jid))
    jobs = [{k.decode(): v for k, v in h.items()} for h in pipe.execute()]
    for jid, job in zip(jids, jobs):
        if not job or not keys.visible(job.get("owner"), who):
            raise NoSuchJobError(jid)
    batches = sorted({job["batch"] for job in jobs})
    pipe = client.pipeline(transaction=False)
    for batch in batches:
        pipe.hget(keys.batch(int(batch)), "meta")
    pipe.hgetall(keys.POOL_HEARTBEATS)
    *metas, pools = pipe.execute()
    meta_of = {b: json.loads(m) if m else {} for b, m in zip(batches, metas)}
    extra = _extras(client, jids, jobs, meta_of, fields, open_pickles)
    return {
        jid: _fields(job, meta_of[job["batch"]], extra.get(jid, {}), pools, fields)
        for jid, job in zip(jids, jobs)
    }


def _extras(
    client: redis.Redis,
    jids: Sequence[int],
    jobs: list[dict[str, bytes]],
    meta_of: dict[bytes, dict[str, Any]],
    fields: Sequence[str],
    open_pickles: bool,
) -> dict[int, dict[str, Any]]:
    """Fields that need more reads: output tails, arguments, the function."""
    wanted = [f for f in ("stdout", "stderr") if f in fields]
    need_args = "args" in fields or "kwargs" in fields
    if not (wanted or need_args or "func_body" in fields):
        return {}
    pipe = client.pipeline(transaction=False)
    plan: list[tuple[int, str]] = []
    for jid, job in zip(jids, jobs):
        for stream in wanted:
            pipe.getrange(keys.output(jid, stream), -defaults.OUTPUT_TAIL_CHARS, -1)
            plan.append((jid, stream))
        if need_args:
            chunk = job["chunk"].decode()
            pipe.hmget(keys.chunk_message(chunk), "payload", "first")
            pipe.get(keys.chunk(chunk))  # a large payload is stored apart
            plan += [(jid, "message"), (jid, "payload")]
        if "func_body" in fields:
            pipe.get(keys.function(meta_of[job["batch"]].get("func", "")))
            plan.append((jid, "func_body"))
    out: dict[int, dict[str, Any]] = {}
    for (jid, name), value in zip(plan, pipe.execute()):
        values = out.setdefault(jid, {})
        if name == "message":  # the chunk's inline payload and first jid
            values["payload"], values["first"] = value
        elif name == "payload":  # stored apart
            values["payload"] = values.get("payload") or value
        else:
            values[name] = value
    for jid, values in out.items():
        for stream in wanted:
            values[stream] = _text(values[stream]) or ""
        _arguments(jid, values, open_pickles)
        if values.get("func_body") is not None and open_pickles:
            values["func_body"] = serialization.loads(values["func_body"])
    return out


def _arguments(jid: int, values: dict[str, Any], open_pickles: bool) -> None:
    """Job ``jid``'s args and kwargs, from its chunk's payload and first jid in ``values``."""
    payload, first = values.pop("payload", None), values.pop("first", None)
    if payload is None or first is None:
        return
    pair = serialization.plain_loads(payload)[jid - int(first)]
    if open_pickles:
        values["args"], values["kwargs"] = serialization.loads(pair)
    else:
        values["args"] = values["kwargs"] = pair


def _fields(
    job: dict[str, bytes],
    meta: dict[str, Any],
    extra: dict[str, Any],
    pools: dict[bytes, bytes],
    fields: Sequence[str],
) -> dict[str, Any]:
    status = JobStatus(job["status"].decode())
    attributes = meta.get("attributes", {})
    computed = {
        "status": lambda: status.value,
        "exception": lambda: _text(job.get("exception")),
        "runtime": lambda: _runtime(job, status),
        "attempts": lambda: int(job.get("attempts", b"0")),
        "worker": lambda: _worker(job, meta, pools),
        "profile": lambda: _text(job.get("profile")),
        "type": lambda: attributes.get("core_type"),
        "attributes": lambda: attributes,
    }
    out: dict[str, Any] = accounting.requested(_usage(job, status), fields)
    for field in fields:
        if field in out:
            continue
        if field in extra:
            out[field] = extra[field]
        elif field in computed:
            out[field] = computed[field]()
        elif field in _TIMES:
            out[field] = _when(job.get(field))
        elif field in ("function", "label", "priority", "queue", "depends_on"):
            out[field] = meta.get(field)
        elif field in ("env", "vol"):
            out[field] = attributes.get(field)
        else:
            out[field] = None
    return out


def _usage(job: dict[str, bytes], status: JobStatus) -> dict[str, Any]:
    """The accounting groups of a job, as its worker measured it (None before it finished)."""
    measured, failed = None, False
    used = job.get("used", b"").split()
    if status.finished and len(used) == 4:
        measured = Usage(int(used[0]), float(used[1]), float(used[2]))
        failed = used[3] == b"1"
    return accounting.info_groups(measured, _runtime(job, status), failed)


def _runtime(job: dict[str, bytes], status: JobStatus) -> float | None:
    if "runtime" in job and status.finished:
        return float(job["runtime"])
    if status == JobStatus.PROCESSING and job.get("started"):
        return time.time() - float(job["started"])
    return None


def _worker(job: dict[str, bytes], meta: dict[str, Any], pools: dict[bytes, bytes]) -> Any:
    if job.get("worker"):
        return job["worker"].decode()
    queue = meta.get("queue", "")
    if not pool_served(pools.get(queue.encode())):
        return f"no worker serves pool {queue!r}"
    return None


def pool_served(last_seen: bytes | None) -> bool:
    """True if a worker of the pool reported at ``last_seen`` (unix time) recently enough."""
    return last_seen is not None and time.time() - float(last_seen) <= POOL_ALIVE_SECONDS
