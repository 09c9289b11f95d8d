"""Running one chunk of jobs a pool process took (workers.consumer, lua/take.lua, which
claimed them): check its message, run each job in a sandbox of its key (workers.sandboxes),
report in batches.

Nothing of the message is unpickled here: the function and each job's arguments go to the
sandbox as bytes (the chunk's payload, a pickled list of bytes, is opened as plain data only).
A sandbox that dies while its job runs costs that job an attempt: it runs again in a fresh
sandbox while it is restartable and has attempts left (lua/lost.lua), else it fails naming
the loss; a job over its pool's memory limit fails saying so; a killed job ends killed."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from picloud import accounting, keys, serialization, signing
from picloud.broker import zero_copy
from picloud.engines.cluster import scripts
from picloud.engines.cluster.patience import BROKER_FAULTS, patiently
from picloud.engines.cluster.sources import SOURCE_SECONDS
from picloud.execution import Outcome
from picloud.jobs import JobStatus
from picloud.options import WireOptions, wire_options
from workers import blobs, verify
from workers.context import WorkerContext
from workers.output import JobOutput
from workers.sandboxes import Batch, Ended, Lost, Sandbox, SandboxError

#: Report finished jobs at least this often while a chunk runs (seconds).
REPORT_INTERVAL = 0.002
#: A result this large (bytes) or larger is stored apart (keys.result): moved into place whole
#: by finish.lua instead of copied through Lua twice (a 10 MB one cost Redis 15 ms more).
INLINE_RESULT = 1 << 16
#: A job whose worker died is run at most this many times in all.
MAX_ATTEMPTS = 3
#: Seconds a worker waits for the broker to come back before it gives up a chunk's check
#: (its claimed jobs are handed on when their lease runs out) or a finished job's result.
CLAIM_PATIENCE = 120.0
REPORT_PATIENCE = 600.0
#: Why a drained worker's jobs were handed on (release.lua charges none of them).
DRAINED = "its worker shut down before the job started"
UNREADABLE = "its message is not one a worker can read"
log = logging.getLogger("picloud.worker")


class Taken(NamedTuple):
    """A chunk as take.lua hands it to a pool process, its jobs claimed."""

    chunk: str
    message: bytes
    #: the api key of its jobs ('*': none named, they are claimed only to fail them)
    key: str
    first: int
    count: int
    jids: list[int]
    restartable: bool
    #: the pickled arguments, None when large (read on their own)
    payload: bytes | None
    #: the key's stored (record, signature)
    key_record: list[bytes | None]

    @classmethod
    def of(cls, reply: list[Any]) -> Taken | None:
        """take.lua's reply; None when the queues were empty."""
        if not reply:
            return None
        chunk, message, key, first, count, claimed, restartable, payload, *record = reply
        return cls(
            chunk.decode(),
            message,
            key.decode(),
            int(first),
            int(count),
            [int(j) for j in claimed.split(b",")],
            restartable == b"1",
            payload,
            record,
        )


#: Adds the take of a process's next chunk to a pipeline (True: a retry after a broker fault).
FollowUp = Callable[[Any, bool], None]


class ChunkRun:
    """One chunk taken by this process. ``follow_up``: the take of the next chunk, sent with
    this one's last report (one round trip for both)."""

    def __init__(
        self, taken: Taken, context: WorkerContext, follow_up: FollowUp | None = None
    ) -> None:
        self.taken = taken
        self.context = context
        self.follow_up = follow_up
        #: take.lua's reply for the next chunk, once the last report went with a take
        self.next: list[Any] | None = None
        self.chunk = taken.chunk
        self.first = taken.first
        self.count = taken.count
        self.key = taken.key
        #: the message's spec and options, once read
        self.spec: dict[str, Any] = {}
        self.options = WireOptions()
        self.queue = "c1"
        #: the job's own modules: (manifest digest, manifest), when they travel with it
        self.manifest: tuple[str, dict[str, Any]] | None = None

    def run(self) -> None:
        """Check the chunk's message, then run its claimed jobs (``next`` says what the last
        report's take brought)."""
        self.context.slot.begin_chunk(self.first)
        try:
            self._run()
        except BROKER_FAULTS as exc:
            # Redis stayed away past our patience: the jobs claimed and not reported are
            # handed on when the chunk's lease runs out (its slot no longer names it).
            log.warning("picloud: gave chunk %s up: the broker stayed away (%s)", self.chunk, exc)
        finally:
            self.context.slot.end_chunk()

    def _run(self) -> None:
        context = self.context
        jids = self.taken.jids
        refusal = self._read_message()
        if refusal is None:
            func_blob, payload, refusal = patiently(
                context.redis, self._check, f"checking chunk {self.chunk}", CLAIM_PATIENCE
            )
        if refusal is not None:
            self._fail(jids, refusal)
            return
        assert payload is not None and func_blob is not None
        rows = _rows(payload, self.count)
        if rows is None:
            self._fail(jids, "Could not read the job's arguments: they are not a list of pickles")
            return
        restartable = self.taken.restartable
        context.watchdog.begin_chunk(jids)
        try:
            self._run_jobs(jids, func_blob, rows, signing.digest(payload), not restartable)
        finally:
            context.watchdog.end_chunk()
            context.calls.end()

    def _read_message(self) -> str | None:
        """Take the spec from the chunk's message; why it cannot run, if so. (Its signature
        is checked later: here, that it names the jobs and key it was stored with.)"""
        try:
            spec = json.loads(self.taken.message)
            self.options = wire_options(spec["options"])
            readable = isinstance(spec["func"], str)
            stored = (
                spec.get("key") in (None, self.key)
                and spec.get("chunk") == self.chunk
                and int(spec["first"]) == self.first
                and int(spec["count"]) == self.count
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            readable = False
        if not readable:
            return verify.REFUSED + UNREADABLE
        if not stored:
            return verify.REFUSED + "its message is not the one stored with its jobs"
        self.spec = spec
        self.queue = str(spec.get("queue") or "c1")
        return None

    def _run_jobs(
        self, jids: list[int], func_blob: bytes, blobs: list[bytes], digest: str, report_each: bool
    ) -> None:
        """Run the jobs in order, as few batches as can be: a job that must not run twice
        (``report_each``: not restartable) has its outcome stored before the next one starts,
        a ``_kill_process`` job gets a sandbox of its own."""
        context = self.context
        context.calls.begin(self.spec, digest)
        keeper = context.keeper(self.queue)
        waiting = [(jid, blobs[jid - self.first]) for jid in jids]
        one_by_one = report_each or self.options.kill_process
        # the chunk's last job goes out with the final report, in one call
        reporter = _Reporter(self, report_each, None if one_by_one else jids[-1])
        # jobs charged for a lost sandbox run again each in a batch of its own: a sandbox
        # reports a batch's ended jobs every so often, so one that ended unreported before a
        # job that kills its sandbox would be charged again with it each time
        rerun: set[int] = set()
        while waiting and not context.slot.draining():
            waiting = [(j, b) for j, b in waiting if j not in context.watchdog.killed]
            if not waiting:
                break
            alone = one_by_one or waiting[0][0] in rerun
            batch = self._batch(waiting[:1] if alone else waiting, func_blob)
            try:
                sandbox = keeper.for_key(self.key)
            except SandboxError as exc:
                now = time.time()
                reporter.done(
                    [(j, _ended(j, JobStatus.ERROR, str(exc), now, 0.0)) for j, _ in waiting]
                )
                break
            ended = self._run_batch(sandbox, batch, reporter)
            waiting = [(j, b) for j, b in waiting if j not in reporter.seen]
            if ended.retire or ended.lost is not None or self.options.kill_process:
                keeper.retire(sandbox)
            if ended.lost is not None and ended.lost.jid is not None:
                waiting, again = self._after_loss(ended.lost, sandbox, waiting, reporter)
                rerun |= again
        reporter.flush()
        if context.slot.draining():
            self._leave([jid for jid, _ in waiting] + sorted(reporter.unstarted))

    def _leave(self, unstarted: list[int]) -> None:
        """The worker shuts down (a drain): the chunk's jobs that did not start go back to
        queued, uncharged, and its message to the head of its queue, for other workers. (Jobs
        killed before they started are not held any more: release.lua leaves them.)"""
        if not unstarted:
            return
        last = min(unstarted) - 1  # every job held from there on never started
        requeued = self._patient_script(
            f"leaving chunk {self.chunk} to other workers",
            "release",
            self.chunk,
            self.context.owner,
            last,
            "finished",
            DRAINED,
            MAX_ATTEMPTS,
        )
        log.warning(
            "picloud: shutting down: %s job(s) of chunk %s left to other workers",
            requeued,
            self.chunk,
        )

    def _batch(self, jobs: list[tuple[int, bytes]], func_blob: bytes) -> Batch:
        spec = self.spec
        return Batch(
            str(spec["func"]),
            func_blob,
            dict(spec["options"]),
            jobs,
            self.options.max_runtime,
            self.manifest,
        )

    def _run_batch(self, sandbox: Sandbox, batch: Batch, reporter: _Reporter) -> Ended:
        context = self.context
        context.watchdog.begin_batch(sandbox, [jid for jid, _ in batch.jobs])
        try:
            return sandbox.run(batch, reporter.done, JobOutput(context.redis), context.calls)
        finally:
            context.watchdog.end_batch()

    def _after_loss(
        self,
        lost: Lost,
        sandbox: Sandbox,
        waiting: list[tuple[int, bytes]],
        reporter: _Reporter,
    ) -> tuple[list[tuple[int, bytes]], set[int]]:
        """The sandbox died after job ``lost.jid`` started, the jobs before it in ``waiting``
        having ended unreported: each is charged a run (and stays waiting to run again when it
        may), or ends killed or over its memory limit; returns what still waits, and which of
        it was charged."""
        jids = [jid for jid, _ in waiting]
        ran = jids[: jids.index(lost.jid) + 1] if lost.jid in jids else []
        again: set[int] = set()
        started, took = lost.started, time.time() - lost.started
        for jid in ran:
            running = jid == lost.jid and lost.running
            if jid == lost.jid and lost.killed is not None:
                reporter.done([(jid, _ended(jid, JobStatus.KILLED, lost.killed, started, took))])
            elif running and lost.memory:
                pool = sandbox.pool
                text = f"{accounting.over_limit(jid, pool.name, pool.memory_per_child_mb)}: "
                ended = _ended(jid, JobStatus.ERROR, text + lost.why, started, took)
                reporter.done([(jid, ended)])
            elif self._charge_loss(jid, lost.why, running):
                again.add(jid)
        gone = set(ran) - again
        return [(j, b) for j, b in waiting if j not in gone], again

    def _charge_loss(self, jid: int, why: str, running: bool) -> bool:
        """Charge job ``jid`` a run for its lost sandbox; True if it is to run again (else it
        has ended in Redis, naming the loss)."""
        again = self._patient_script(
            f"charging job {jid} for its lost sandbox",
            "lost",
            self.context.owner,
            jid,
            why,
            MAX_ATTEMPTS,
            "1" if running else "0",
        )
        return again == 1

    def _fail(self, jids: list[int], text: str) -> None:
        now = time.time()
        self._report(
            [Outcome(j, JobStatus.ERROR.value, None, text, now, 0.0) for j in jids], final=True
        )

    def _check(self) -> tuple[bytes | None, bytes | None, str | None]:
        """The chunk's function and payload, and why the message must not run (None when it
        may): what take.lua did not bring (a function this process has not checked yet, a
        large payload, a cron's or a parent job's record, the manifest of the job's own
        modules) is read in one pipeline."""
        spec, taken = self.spec, self.taken
        pipe = self.context.redis.pipeline(transaction=False)
        payload = taken.payload
        if payload is None:
            pipe.get(keys.chunk(self.chunk))
        func = str(spec["func"])
        func_blob = blobs.checked.get("func " + func)
        if func_blob is None:
            pipe.get(keys.function(func))
        cron = verify.root_cron(spec)
        if cron is not None:
            pipe.hmget(keys.cron(self.key, cron), "record", "sig")
        parent = spec.get("parent")
        if isinstance(parent, int):
            pipe.hmget(keys.job(parent), "status", "owner")
        bundle = spec.get("bundle")
        bundle_name = f"bundle {self.key} {bundle}"
        manifest = blobs.checked.get(bundle_name) if bundle else None
        if bundle and manifest is None:
            pipe.get(keys.bundle(self.key, str(bundle)))
        replies = iter(pipe.execute() if pipe.command_stack else [])
        if payload is None:
            payload = next(replies)
        if func_blob is None:
            func_blob = next(replies)
        cron_record = next(replies) if cron is not None else None
        parent_state = next(replies) if isinstance(parent, int) else None
        key_record = self._fresh(f"apikey {self.key}", keys.api_key(self.key), taken.key_record)
        if cron is not None:
            cron_record = self._fresh(
                f"cron {self.key} {cron}", keys.cron(self.key, cron), cron_record
            )
        refusal = verify.problem(
            spec, self.context.trust, key_record, payload, func_blob, cron_record, parent_state
        )
        if refusal is None:
            assert func_blob is not None
            blobs.checked.keep("func " + func, func_blob)
        if refusal is None and bundle:
            manifest = next(replies) if manifest is None else manifest
            self.manifest, why = _manifest(str(bundle), manifest)
            refusal = None if why is None else verify.REFUSED + why
            if why is None and manifest is not None:
                blobs.checked.keep(bundle_name, manifest)
        return func_blob, payload, refusal

    def _fresh(self, about: str, store_key: str, record: Any) -> Any:
        """A trust record as read, or read again when a newer one was announced since (the
        read crossed it); an old copy put back stays old, and is refused."""
        if self.context.trust.outdated(about, *record):
            return self.context.redis.hmget(store_key, "record", "sig")
        return record

    def _report(self, outcomes: list[Outcome], final: bool) -> None:
        """Store ``outcomes`` (``final``: the chunk's last, which ends its lease and goes with
        the take of this process's next chunk, in one round trip). A large result is staged
        under a key of its own in the same pipeline, for finish.lua to move into place."""
        if not outcomes and not final:
            return
        owner = self.context.owner
        args, staged = _finish_args(outcomes, owner)
        what = f"reporting {len(outcomes)} job(s) of chunk {self.chunk}"
        take = final and self.follow_up is not None and not self.context.slot.draining()
        follow_up, redis, retries = self.follow_up, self.context.redis, 0

        def report() -> Any:
            nonlocal retries
            pipe = redis.pipeline(transaction=False)
            for key, result in staged:
                pipe.set(key, zero_copy(result), px=int(REPORT_PATIENCE * 1000))
            scripts.queue(pipe, "finish", time.time(), owner, self.chunk if final else "", *args)
            if take:
                assert follow_up is not None
                follow_up(pipe, retries > 0)  # a retry's finish finds its jobs reported already
            retries += 1
            return pipe.execute()[-1]

        reply = patiently(redis, report, what, REPORT_PATIENCE)
        if take:
            self.next = reply

    def _patient_script(self, what: str, name: str, *args: Any) -> Any:
        """Run script ``name`` (now, then ``args``) through broker faults: what it reports
        exists only in this process."""
        redis = self.context.redis
        return patiently(
            redis, lambda: scripts.run(redis, name, time.time(), *args), what, REPORT_PATIENCE
        )


def _finish_args(outcomes: list[Outcome], owner: str) -> tuple[list[Any], list[tuple[str, Any]]]:
    """finish.lua's arguments for ``outcomes`` (see there), and the (key, result) of each
    large result to stage for it (keys.staged_result)."""
    args: list[Any] = []
    staged: list[tuple[str, Any]] = []
    for o in outcomes:
        done = o.status == JobStatus.DONE.value
        body = o.result if done else (o.exception or "")
        flags = 1 if o.profile else 0
        if done and body is not None and len(body) >= INLINE_RESULT:
            staged.append((keys.staged_result(o.jid, owner), body))
            body, flags = b"", flags | 2
        header = f"{o.jid} {o.status} {o.started!r} {o.runtime!r} {flags}"
        if o.usage is not None:
            used = o.usage
            header += f" {used.max_rss} {used.user!r} {used.system!r} {int(o.memory_exceeded)}"
        args += [header, body]
        if o.profile:
            args.append(o.profile)
    return args, staged


def _manifest(
    digest: str, body: bytes | None
) -> tuple[tuple[str, dict[str, Any]] | None, str | None]:
    """The job's own modules' manifest as stored (digest checked), or why it cannot run."""
    if body is None:
        return None, (
            "the job's own modules are no longer in the broker (they are kept "
            f"{SOURCE_SECONDS // 86400} days after their last use): submit it again"
        )
    try:
        found = json.loads(body) if signing.digest(body) == digest else None
    except ValueError:
        found = None
    if not isinstance(found, dict) or not isinstance(found.get("modules", {}), dict):
        return None, "the manifest of the job's own modules is not the one it was signed with"
    return (digest, found), None


def _rows(payload: bytes, count: int) -> list[bytes] | None:
    """The chunk's per-job argument pickles, read as plain data (None if they are not)."""
    try:
        rows = serialization.plain_loads(payload)
    except Exception:
        return None
    if not isinstance(rows, list) or len(rows) != count:
        return None
    return rows if all(isinstance(r, bytes) for r in rows) else None


def _ended(jid: int, status: JobStatus, text: str, started: float, runtime: float) -> Outcome:
    return Outcome(jid, status.value, None, text, started, runtime)


class _Reporter:
    """Outcomes on their way to Redis: stored in batches (at least every REPORT_INTERVAL), or
    each at once for jobs that must not run twice."""

    def __init__(self, run: ChunkRun, each: bool, last: int | None) -> None:
        self._run = run
        self._each = each
        #: the job whose end waits for ``flush`` (which follows it at once)
        self._last = last
        self._pending: list[Outcome] = []
        self._sent = time.monotonic()
        #: jobs that ended (reported, or skipped: killed before they started, or a drain)
        self.seen: set[int] = set()
        #: the skipped ones
        self.unstarted: set[int] = set()

    def done(self, ended: list[tuple[int, Outcome | None]]) -> None:
        """Take jobs that ended, as one report of their sandbox: stored now if it is time,
        else with a later report (a report holding the chunk's last job waits for ``flush``,
        which follows at once: its jobs are stored in one call, with the next chunk's take)."""
        last = False
        for jid, outcome in ended:
            self.seen.add(jid)
            if outcome is not None:
                self._pending.append(outcome)
            else:
                self.unstarted.add(jid)
            last = last or jid == self._last
        if last:
            return
        if self._each or time.monotonic() - self._sent > REPORT_INTERVAL:
            self._run._report(self._pending, final=False)
            self._pending, self._sent = [], time.monotonic()

    def flush(self) -> None:
        self._run._report(self._pending, final=True)
        self._pending = []
