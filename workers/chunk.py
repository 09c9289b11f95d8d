"""Running one Celery message's chunk of jobs: claim them, run each, report in batches."""

from __future__ import annotations

import time
from typing import Any

from picloud import keys, serialization
from picloud.engines.cluster import scripts
from picloud.execution import Outcome, remote_traceback, run_job
from picloud.jobs import JobStatus
from picloud.options import WireOptions
from workers import verify
from workers.context import WorkerContext
from workers.output import redis_output
from workers.watchdog import LEASE_SECONDS

#: Report finished jobs at least this often while a chunk runs (seconds).
REPORT_INTERVAL = 0.02
#: A job whose worker died is run at most this many times in all.
MAX_ATTEMPTS = 3


class ChunkRun:
    """One delivery of one chunk."""

    def __init__(self, spec: dict[str, Any], context: WorkerContext) -> None:
        self.spec = spec
        self.context = context
        self.first = int(spec["first"])
        self.count = int(spec["count"])
        self.chunk = str(spec["chunk"])
        options = dict(spec["options"])
        options["os_env_vars"] = tuple(tuple(p) for p in options.get("os_env_vars", ()))
        self.options = WireOptions(**options)
        self.exit_after = False

    def run(self) -> bool:
        """Run the chunk's claimable jobs; True if this process must exit afterwards."""
        jids, payload, func_blob, refusal = self._claim()
        if not jids:
            return False
        redis, watchdog = self.context.redis, self.context.watchdog
        if refusal is not None:
            self._fail(jids, refusal)
            return False
        try:
            func = self.context.function(self.spec["func"], func_blob)
            blobs = serialization.loads(payload)
        except Exception:
            self._fail(jids, "Could not depickle the job:\n" + remote_traceback())
            return False
        watchdog.begin_chunk(self.chunk, jids, self.options)
        pending: list[Outcome] = []
        last_report = time.monotonic()
        try:
            for jid in jids:
                if not watchdog.begin_job(jid):
                    continue
                try:
                    outcome = run_job(
                        jid, func, blobs[jid - self.first], self.options, redis_output(redis, jid)
                    )
                finally:
                    watchdog.end_job()
                pending.append(outcome)
                if self.options.kill_process or outcome.status == JobStatus.KILLED.value:
                    self.exit_after = True
                    break
                if time.monotonic() - last_report > REPORT_INTERVAL:
                    self._report(pending, final=False)
                    pending, last_report = [], time.monotonic()
            self._report(pending, final=True)
        finally:
            watchdog.end_chunk()
        return self.exit_after

    def _fail(self, jids: list[int], text: str) -> None:
        now = time.time()
        self._report(
            [Outcome(j, JobStatus.ERROR.value, None, text, now, 0.0) for j in jids], final=True
        )

    def _claim(self) -> tuple[list[int], bytes | None, bytes | None, str | None]:
        """Take the chunk's queued jobs (and those of workers that died); read its payload and
        check its signature (the claimed jobs must then fail if it does not hold)."""
        context = self.context
        key = str(self.spec.get("key") or keys.ANY_OWNER)
        pipe = context.redis.pipeline(transaction=False)
        scripts.queue(
            pipe,
            "claim",
            time.time(),
            context.owner,
            self.first,
            self.count,
            time.time() + LEASE_SECONDS,
            self.chunk,
            key,
        )
        pipe.get(keys.chunk(self.chunk))
        pipe.get(keys.function(str(self.spec.get("func"))))
        pipe.hmget(keys.api_key(key), "public", "active")
        cron = self.spec.get("cron")
        if cron is not None:  # a cron's run: it must still be registered
            pipe.hget(keys.cron(key, str(cron)), "grant")
        try:
            reply, payload, func_blob, key_state, *grant = pipe.execute()
        except Exception as exc:
            if "NOSCRIPT" not in str(exc):
                raise
            scripts.load_all(context.redis)
            reply, payload, func_blob, key_state, *grant = pipe.execute()
        refusal = verify.problem(self.spec, key_state, payload, func_blob, *grant)
        claimed, *busy = reply
        jids = [int(j) for j in claimed.split(b",")] if claimed else []
        lost: dict[str, list[int]] = {}
        for jid, holder in zip(busy[::2], busy[1::2]):
            if context.owner_is_gone(holder.decode()):
                lost.setdefault(holder.decode(), []).append(int(jid))
        for holder, held in lost.items():
            taken = scripts.run(
                context.redis,
                "takeover",
                time.time(),
                context.owner,
                holder,
                "its process ended while running it",
                MAX_ATTEMPTS,
                *held,
            )
            jids.extend(int(j) for j in taken)
        return sorted(jids), payload, func_blob, refusal

    def _report(self, outcomes: list[Outcome], final: bool) -> None:
        if not outcomes and not final:
            return
        args: list[Any] = []
        for o in outcomes:
            body = o.result if o.status == JobStatus.DONE.value else (o.exception or "")
            args += [f"{o.jid} {o.status} {o.started!r} {o.runtime!r} {int(bool(o.profile))}", body]
            if o.profile:
                args.append(o.profile)
        scripts.run(
            self.context.redis,
            "finish",
            time.time(),
            self.context.owner,
            self.chunk if final else "",
            *args,
        )
