"""Running one Celery message's chunk of jobs: claim them, run each, report in batches."""

from __future__ import annotations

import time
from typing import Any

from celery.exceptions import Reject

from picloud import keys, serialization
from picloud.engines.cluster import scripts
from picloud.engines.cluster.patience import BROKER_FAULTS, patiently
from picloud.execution import Outcome, remote_traceback, run_job
from picloud.jobs import JobStatus
from picloud.options import WireOptions
from workers import verify
from workers.context import WorkerContext
from workers.leases import LEASE_SECONDS
from workers.output import redis_output

#: Report finished jobs at least this often while a chunk runs (seconds).
REPORT_INTERVAL = 0.02
#: A job whose worker died is run at most this many times in all.
MAX_ATTEMPTS = 3
#: Seconds a worker waits for the broker to come back before it gives a message up (claiming)
#: or a finished job's result (reporting).
CLAIM_PATIENCE = 120.0
REPORT_PATIENCE = 600.0


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
        try:
            return self._run()
        except BROKER_FAULTS as exc:
            # Redis stayed away past our patience: give the message back; jobs claimed by now
            # are handed on when their lease expires.
            raise Reject(f"the broker stayed unreachable: {exc}", requeue=True) from exc

    def _run(self) -> bool:
        context = self.context
        context.slot.begin_chunk(self.first)
        claimed = patiently(
            context.redis, self._claim, f"claiming chunk {self.chunk}", CLAIM_PATIENCE
        )
        jids, restartable, payload, func_blob, refusal = claimed
        if not jids:
            return False
        if refusal is not None:
            self._fail(jids, refusal)
            return False
        try:
            func = context.function(self.spec["func"], func_blob)
            blobs = serialization.loads(payload)
        except Exception:
            self._fail(jids, "Could not depickle the job:\n" + remote_traceback())
            return False
        context.watchdog.begin_chunk(self.chunk, jids, self.options)
        try:
            last = self._run_jobs(jids, func, blobs, report_each=not restartable)
        finally:
            context.watchdog.end_chunk()
        if self.exit_after and last != jids[-1]:
            self._hand_on(last)
        return self.exit_after

    def _run_jobs(self, jids: list[int], func: Any, blobs: list[bytes], report_each: bool) -> int:
        """Run the jobs in order; return the last one run. A job that must not run twice
        (``report_each``: not restartable) has its outcome stored before the next one starts."""
        watchdog, slot, redis = self.context.watchdog, self.context.slot, self.context.redis
        pending: list[Outcome] = []
        last_report = time.monotonic()
        last = 0
        for jid in jids:
            if not watchdog.begin_job(jid):
                continue
            slot.started(jid)
            try:
                outcome = run_job(
                    jid, func, blobs[jid - self.first], self.options, redis_output(redis, jid)
                )
            finally:
                watchdog.end_job()
            slot.finished(jid)
            last = jid
            pending.append(outcome)
            if self.options.kill_process or outcome.status == JobStatus.KILLED.value:
                self.exit_after = True
                break
            if report_each or time.monotonic() - last_report > REPORT_INTERVAL:
                self._report(pending, final=False)
                pending, last_report = [], time.monotonic()
        self._report(pending, final=True)
        return last

    def _hand_on(self, last: int) -> None:
        """This process retires after job ``last``: the chunk's later jobs, which never
        started, go back to queued for a fresh process."""
        why = f"its process retired after job {last}"
        self._patient_script(
            f"handing on chunk {self.chunk}",
            "release",
            self.chunk,
            self.context.owner,
            last,
            "finished",
            why,
            MAX_ATTEMPTS,
        )

    def _fail(self, jids: list[int], text: str) -> None:
        now = time.time()
        self._report(
            [Outcome(j, JobStatus.ERROR.value, None, text, now, 0.0) for j in jids], final=True
        )

    def _claim(self) -> tuple[list[int], bool, bytes | None, bytes | None, str | None]:
        """Take the chunk's queued jobs; read its payload and check its signature (the claimed
        jobs must then fail if it does not hold)."""
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
        (claimed, restartable), payload, func_blob, key_state, *grant = pipe.execute()
        refusal = verify.problem(self.spec, key_state, payload, func_blob, *grant)
        jids = [int(j) for j in claimed.split(b",")] if claimed else []
        return jids, restartable == b"1", payload, func_blob, refusal

    def _report(self, outcomes: list[Outcome], final: bool) -> None:
        if not outcomes and not final:
            return
        args: list[Any] = []
        for o in outcomes:
            body = o.result if o.status == JobStatus.DONE.value else (o.exception or "")
            args += [f"{o.jid} {o.status} {o.started!r} {o.runtime!r} {int(bool(o.profile))}", body]
            if o.profile:
                args.append(o.profile)
        self._patient_script(
            f"reporting {len(outcomes)} job(s) of chunk {self.chunk}",
            "finish",
            self.context.owner,
            self.chunk if final else "",
            *args,
        )

    def _patient_script(self, what: str, name: str, *args: Any) -> None:
        """Run script ``name`` (now, then ``args``) through broker faults: what it reports
        exists only in this process."""
        redis = self.context.redis
        patiently(
            redis, lambda: scripts.run(redis, name, time.time(), *args), what, REPORT_PATIENCE
        )
