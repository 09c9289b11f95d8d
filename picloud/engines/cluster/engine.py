"""ClusterEngine: jobs on Celery workers through the Redis broker; state lives in Redis.

Submitting is one pipeline (function, chunk payloads, the submit script); waiting blocks on
this client's reply list instead of polling each job; reads are batched pipelines."""

from __future__ import annotations

import contextlib
import itertools
import json
import pickle
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import redis

from picloud import broker, defaults, keys, signing
from picloud.engines.base import Finished, Submission, Watcher
from picloud.engines.cluster import scripts
from picloud.engines.cluster.info import POOL_ALIVE_SECONDS, pool_served, read_info
from picloud.engines.cluster.messages import priority_step, queue_name
from picloud.engines.cluster.notices import WAIT_SECONDS, FinishNotices
from picloud.engines.cluster.patience import patiently
from picloud.engines.cluster.sources import Sources
from picloud.exceptions import CloudException, NoSuchJobError, NoWorkerWarning
from picloud.jids import Submitted, describe_jids
from picloud.jobs import JobStatus

_STATUS_OF = {ord(s.value[0]): s for s in JobStatus}
_MISSING = ord("-")
_DONE = ord("d")
#: Largest number of jobs in one chunk (one message).
MAX_CHUNK = 256
#: Pool processes a map is cut for while its pool's own count is not known (keys.POOL_PROCESSES,
#: read with the pool's heartbeat: a client's first submission to a queue goes before it).
DEFAULT_PROCESSES = 16
#: Commands per pipeline when reading many jobs.
READ_BATCH = 2000
#: How many of this client's latest submissions ``wait`` trusts to announce their end.
RECENT_SUBMISSIONS = 64
#: Seconds between status re-reads while waiting on jobs another client submitted.
POLL_FOREIGN = 0.5
#: Jids a client reserves at once for its small submissions (one INCRBY per block).
JID_BLOCK = 64
#: A chunk's payload smaller than this (bytes) is stored in its chunk's hash, read with it
#: (lua/take.lua); a larger one under its own key (``keys.chunk``), not copied through Lua.
INLINE_PAYLOAD = 1 << 16
#: Seconds a read (status, result, info) rides out a broker restart before it raises; a wait
#: rides it out until its own timeout.
RIDE_OUT = 30.0


def _as_args(jids: Sequence[int]) -> Sequence[int | str]:
    """``jids`` as a read script's arguments: a run of them as one 'first-last'."""
    if isinstance(jids, range) and jids.step == 1 and len(jids) > 1:
        return (f"{jids.start}-{jids.stop - 1}",)
    return jids


def chunk_sizes(n: int, processes: int = DEFAULT_PROCESSES) -> list[int]:
    """Jobs per message, in order, cut by factoring (Hummel, Schonberg and Flynn, 1992): each
    round cuts ``processes`` chunks that together hold about half the jobs left, each of at
    most MAX_CHUNK jobs and at least one. The pool's processes take the large first chunks,
    few messages for a long map, and share its end in ever smaller ones, so that none waits
    on another's last chunk; a map of up to ``2 * processes`` jobs goes one job a chunk."""
    processes = max(1, processes)
    sizes: list[int] = []
    left = n
    while left > 0:
        size = max(1, min(MAX_CHUNK, -(-left // (2 * processes))))
        for _ in range(min(processes, -(-left // size))):
            sizes.append(min(size, left))
            left -= sizes[-1]
    return sizes


def take_jids(client: redis.Redis, block: range, n: int, size: int) -> tuple[int, range]:
    """The first of ``n`` fresh consecutive jids from ``block`` (when it holds too few, a new
    block of ``max(n, size)`` reserved with one INCRBY), and what is left of the block."""
    if n > len(block):
        size = max(n, size)
        end = client.incrby(keys.JID_COUNTER, size) + 1
        block = range(end - size, end)
    return block.start, block[n:]


def give_back(block: range, first: int, n: int) -> range:
    """``block`` with the jids ``first`` .. ``first+n-1`` in front again, if none was taken
    from it since they were (a submission that queued nothing)."""
    return range(first, block.stop) if block.start == first + n else block


class ClusterEngine:
    """The Engine protocol on the Celery fleet, as one api key: it signs what it submits and
    sees only that key's jobs (``keys.ANY_OWNER``, the admin, sees all and submits nothing)."""

    connection_type = "cluster"

    def __init__(
        self,
        url: str,
        api_key: str = defaults.API_KEY,
        api_secretkey: str = defaults.API_SECRETKEY,
        *,
        signer: signing.MessageSigner | None = None,
        jid_block: int = JID_BLOCK,
        open_pickles: bool = True,
    ) -> None:
        """Sign with ``api_secretkey``, or with ``signer`` (a cron's GrantSigner, a job's
        Voucher: its ``api_key`` is then the owner). ``jid_block``: jids reserved at once.
        ``open_pickles=False`` (a job's supervisor): info's args, kwargs and func_body stay
        the pickles they are, for the job to open."""
        self.url = url
        self.owner = signer.api_key if signer is not None else api_key
        unset = (defaults.API_KEY, defaults.API_SECRETKEY, "", None)
        if signer is None and api_key not in unset and api_secretkey not in unset:
            signer = signing.Signer(api_key, api_secretkey)
        self.signer = signer
        self._jid_block = jid_block
        self._open_pickles = open_pickles
        self._jids = range(0)
        self.redis = broker.connect(url)
        with self._broker_errors():
            scripts.load_all(self.redis)
        self.client_id = uuid.uuid4().hex
        self._chunk_ids = itertools.count()
        self._stored_functions: set[str] = set()
        self._sources = Sources(self.redis, self.owner)
        self.notices = FinishNotices(
            lambda: broker.connect(url, read_timeout=WAIT_SECONDS + 5), keys.reply(self.client_id)
        )
        self._closed = False
        #: the last RECENT_SUBMISSIONS submissions' jids (see _submitted_here)
        self._recent: list[range] = []
        #: queue -> until when (monotonic) its last heartbeat read keeps it served
        self._served: dict[str, float] = {}
        #: pool processes per queue, as the pool's workers said (keys.POOL_PROCESSES)
        self._processes: dict[str, int] = {}
        self._own = Submitted()

    @contextlib.contextmanager
    def _broker_errors(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise CloudException(f"lost the broker at {broker.redact(self.url)}: {exc}") from None

    # --- submitting ---------------------------------------------------------------------------
    def _reserve(self, n: int) -> int:
        """The first of ``n`` fresh consecutive jids (small submissions share a block)."""
        with self._broker_errors():
            start, self._jids = take_jids(self.redis, self._jids, n, self._jid_block)
        return start

    def submit(self, submission: Submission) -> range:
        if self.signer is None:
            raise CloudException(
                f"jobs on the cluster must be signed, and this connection has no API key "
                f"({self.owner!r}): call cloud.setkey(api_key, api_secretkey) or set "
                "PICLOUD_API_KEY and PICLOUD_API_SECRETKEY (`make run` makes a local key)"
            )
        options = submission.options
        queue = queue_name(options.type, options.env)
        n = len(submission.args_blobs)
        digest = signing.digest(submission.func_blob)
        start = self._reserve(n) if submission.first_jid is None else submission.first_jid
        spec = {"func": digest, **granted_fields(options), "key": self.owner}
        spec["ts"] = int(time.time())  # signed: how old a message a running job descends from
        if submission.manifest:  # the user's own modules travel with the jobs (signed too)
            with self._broker_errors():
                spec["bundle"] = self._sources.ship(submission.manifest, submission.sources)
        pipe = self.redis.pipeline(transaction=False)
        if digest not in self._stored_functions:
            pipe.set(keys.function(digest), broker.zero_copy(submission.func_blob))
        served_at = None if self._served.get(queue, 0.0) > time.monotonic() else len(pipe)
        if served_at is not None:
            pipe.hget(keys.POOL_HEARTBEATS, queue)
            pipe.hgetall(keys.POOL_PROCESSES)
        processes = self._processes.get(queue, DEFAULT_PROCESSES)
        chunk_args, stored_apart = self._chunks(pipe, spec, submission.args_blobs, start, processes)
        deps = options.depends_on
        scripts.queue(
            pipe,
            "submit",
            time.time(),
            start,
            n,
            self.notices.reply_key,
            self.owner,
            options.depends_on_errors,
            "1" if options.restartable else "0",
            json.dumps(_meta(submission, queue, digest)),
            queue,
            priority_step(options.priority),
            submission.remember or "",
            keys.SUBMITTED_SECONDS,
            len(deps),
            *deps,
            len(chunk_args) // 4,
            *chunk_args,
        )
        self.notices.start()
        with self._broker_errors():
            replies = _execute(self.redis, pipe)
        self._stored_functions.add(digest)
        outcome = replies[-1]
        if outcome[0] == b"nodep":
            if stored_apart:
                self.redis.delete(*stored_apart)
            self._jids = give_back(self._jids, start, n)  # nothing was made: still free
            raise CloudException(f"This dependency does not exist: job {int(outcome[1])}")
        if served_at is not None:
            self._note_served(queue, replies[served_at], replies[served_at + 1])
        jids = range(start, start + n)
        self._own.add(jids)
        self._recent.append(jids)
        del self._recent[:-RECENT_SUBMISSIONS]
        return jids

    def _chunks(
        self,
        pipe: Any,
        spec: dict[str, Any],
        blobs: Sequence[bytes],
        start: int,
        processes: int,
    ) -> tuple[list[Any], list[str]]:
        """submit.lua's arguments for each chunk of a submission starting at jid ``start``, cut
        for ``processes`` (count, signed message, chunk id, the payload when small), and the
        keys of the payloads stored apart, which ``pipe`` SETs (large ones: not copied through
        Lua)."""
        chunk_args: list[Any] = []
        stored_apart: list[str] = []
        offset = 0
        for size in chunk_sizes(len(blobs), processes):
            part = blobs[offset : offset + size]
            chunk_id = f"{self.client_id}.{next(self._chunk_ids)}"
            payload = pickle.dumps(list(part), 5)
            first = start + offset
            chunk_spec = {**spec, "chunk": chunk_id, "count": len(part), "first": first}
            chunk_spec.update(
                self.signer.spec_fields(first, len(part), signing.digest(payload), chunk_spec)
            )
            inline = b""
            if len(payload) < INLINE_PAYLOAD:
                inline = payload
            else:
                stored_apart.append(keys.chunk(chunk_id))
                pipe.set(stored_apart[-1], broker.zero_copy(payload))
            chunk_args += [len(part), json.dumps(chunk_spec), chunk_id, inline]
            offset += size
        return chunk_args, stored_apart

    def _note_served(
        self, queue: str, last_seen: bytes | None, processes: dict[bytes, bytes]
    ) -> None:
        """Warn if no worker serves ``queue``; else skip the check for as long as the heartbeat
        read keeps the pool served, and cut maps for the processes its workers run."""
        prefix = f"{queue} ".encode()
        counted = sum(int(n) for field, n in processes.items() if field.startswith(prefix))
        if counted:
            self._processes[queue] = counted
        if not pool_served(last_seen):
            warnings.warn(NoWorkerWarning(queue), stacklevel=5)
            return
        assert last_seen is not None
        age = time.time() - float(last_seen)
        self._served[queue] = time.monotonic() + POOL_ALIVE_SECONDS - age

    # --- reading ------------------------------------------------------------------------------
    def statuses(self, jids: Sequence[int], patience: float | None = RIDE_OUT) -> list[JobStatus]:
        letters = b"".join(self._each_batch("statuses", jids, patience))
        out = []
        for jid, letter in zip(jids, letters):
            if letter == _MISSING:
                raise NoSuchJobError(jid)
            out.append(_STATUS_OF[letter])
        return out

    def _each_batch(
        self, script: str, jids: Sequence[int], patience: float | None = RIDE_OUT
    ) -> Iterator[Any]:
        """Run a read script over ``jids`` in batches of READ_BATCH, riding out a broker
        restart for ``patience`` seconds (None: for ever)."""
        for start in range(0, len(jids), READ_BATCH):
            batch = _as_args(jids[start : start + READ_BATCH])
            yield self._patiently(
                lambda: scripts.run(self.redis, script, self.owner, *batch), patience
            )

    def _patiently(self, read: Any, patience: float | None) -> Any:
        """``read()``, retried while the broker is unreachable (a restart, a failover) for up
        to ``patience`` seconds; then CloudException naming the broker."""
        with self._broker_errors():
            where = f"reading jobs at {broker.redact(self.url)}"
            return patiently(self.redis, read, where, patience)

    def wait(self, jids: Sequence[int], timeout: float | None, stop_on_error: bool) -> list[int]:
        deadline = None if timeout is None else time.monotonic() + timeout
        pending = list(jids)
        notices = self.notices
        with notices.changed:
            failures_seen = len(notices.failures)
        # Jobs this client just submitted need no first read: their end will be announced.
        read_now = not self._submitted_here(jids)
        while True:
            if read_now:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                statuses = self.statuses(pending, left)
                if stop_on_error and any(s.finished and s != JobStatus.DONE for s in statuses):
                    return [j for j, s in zip(pending, statuses) if not s.finished]
                pending = [j for j, s in zip(pending, statuses) if not s.finished]
            read_now = True
            # Own jobs are announced on the reply list; re-reading is only the safety net for
            # other clients' jobs, so it gets rarer as the wait grows.
            next_read = time.monotonic() + max(POLL_FOREIGN, len(pending) / 20_000)
            position = 0
            with notices.changed:
                while True:
                    finished = notices.finished
                    while position < len(pending) and pending[position] in finished:
                        position += 1
                    rest = [j for j in pending[position:] if j not in finished]
                    if not rest:
                        return []
                    if stop_on_error and len(notices.failures) > failures_seen:
                        new_failures = notices.failures[failures_seen:]
                        failures_seen += len(new_failures)
                        wanted = set(rest)
                        if any(j in wanted for j in new_failures):
                            return rest
                    now = time.monotonic()
                    if deadline is not None and now >= deadline:
                        return rest
                    if now >= next_read:
                        break
                    limit = next_read if deadline is None else min(next_read, deadline)
                    notices.changed.wait(limit - now)
                pending = rest

    def _submitted_here(self, jids: Sequence[int]) -> bool:
        """True when ``jids`` (a range, or a few jids) are among this client's recent
        submissions."""
        recent = self._recent[-RECENT_SUBMISSIONS:]
        if isinstance(jids, range) and jids.step == 1:
            return any(r.start <= jids.start and jids.stop <= r.stop for r in recent)
        return 0 < len(jids) <= 16 and all(any(j in r for r in recent) for j in jids)

    def results(self, jids: Sequence[int]) -> list[Finished]:
        letters, bodies = self._read_results(jids)
        return [
            Finished(status, body, None)
            if status == JobStatus.DONE
            else Finished(status, None, body.decode("utf-8", "replace") or None)
            for status, body in zip(map(_STATUS_OF.__getitem__, letters), bodies)
        ]

    def _read_results(self, jids: Sequence[int]) -> tuple[bytes, list[bytes]]:
        """(a status letter per job, its result or error text) of ``jids``; NoSuchJobError
        for an unknown one or another key's."""
        if len(jids) == 1:
            return self._read_result(jids[0])
        letters = b""
        bodies: list[bytes] = []
        for reply in self._each_batch("results", jids):
            letters += reply[0]
            bodies += reply[1:]
        missing = letters.find(b"-")
        if missing >= 0:
            raise NoSuchJobError(jids[missing])
        large = [i for i, body in enumerate(bodies) if body is None]
        if large:
            self._read_large(jids, letters, bodies, large)
        return letters, bodies

    def _read_result(self, jid: int) -> tuple[bytes, list[bytes]]:
        """``_read_results`` of one job: its hash's fields read at once (results.lua would
        copy a large result into Lua to learn its size), then a result kept apart."""
        status, owner, result, exception = self._patiently(
            lambda: self.redis.hmget(keys.job(jid), "status", "owner", "result", "exception"),
            RIDE_OUT,
        )
        if status is None or not keys.visible(owner, self.owner):
            raise NoSuchJobError(jid)
        letter = status[:1]
        if letter != b"d":
            return letter, [exception or b""]
        if result is None:
            result = self._patiently(lambda: self.redis.get(keys.result(jid)), RIDE_OUT)
            if result is None:  # deleted since
                raise NoSuchJobError(jid)
        return letter, [result]

    def _read_large(
        self,
        jids: Sequence[int],
        letters: bytes,
        bodies: list[bytes],
        large: list[int],
    ) -> None:
        """Fill in the large results and errors results.lua left out (at ``large``): a result
        kept apart, or one stored in its hash before results were (both are asked for: the
        other is none), or an error text."""

        def read() -> list[bytes | None]:
            pipe = self.redis.pipeline(transaction=False)
            for i in large:
                done = letters[i] == _DONE
                if done:
                    pipe.get(keys.result(jids[i]))
                pipe.hget(keys.job(jids[i]), "result" if done else "exception")
            return pipe.execute()

        replies = iter(self._patiently(read, RIDE_OUT))
        for i in large:
            body = next(replies)
            if letters[i] == _DONE:
                in_hash = next(replies)
                body = in_hash if body is None else body
            if body is None:  # deleted since
                raise NoSuchJobError(jids[i])
            bodies[i] = body

    def done_results(self, jids: Sequence[int]) -> list[bytes] | None:
        if len(jids) == 1:
            carried = self.notices.take_result(jids[0])
            if carried is not None:
                return [carried]
        letters, bodies = self._read_results(jids)
        if letters.count(_DONE) != len(letters):
            return None
        return bodies

    def info(self, jids: Sequence[int], fields: Sequence[str]) -> dict[int, dict[str, Any]]:
        opened = self._open_pickles
        return self._patiently(
            lambda: read_info(self.redis, jids, fields, self.owner, opened), RIDE_OUT
        )

    def watch(self, jid: int, watcher: Watcher) -> None:
        status = self.notices.add_watcher(jid, watcher)
        if status is None:
            current = self.statuses([jid])[0]
            if current.finished:
                for registered in self.notices.take_watchers(jid):
                    registered(jid, current)
        else:
            watcher(jid, status)

    def connection_info(self) -> dict[str, Any]:
        return {
            "opened": not self._closed,
            "connection_type": self.connection_type,
            "broker_url": broker.redact(self.url),
            "api_key": self.owner,
        }

    # --- killing and deleting -----------------------------------------------------------------
    def kill(self, jids: Sequence[int] | None) -> None:
        targets = [j for own in self._own.ranges for j in own] if jids is None else jids
        if jids is not None:
            self.statuses(targets)  # unknown jids raise before anything is killed
        with self._broker_errors():
            for start in range(0, len(targets), READ_BATCH):
                scripts.run(self.redis, "kill", time.time(), *targets[start : start + READ_BATCH])

    def delete(self, jids: Sequence[int]) -> None:
        """Kill the unfinished jobs among ``jids`` (as PiCloud's simulator did; the kill script
        makes them killed at once), then forget them all. NoSuchJobError, with nothing
        changed, for an unknown jid or another key's."""
        self.kill(jids)
        self._on_finished("delete", jids, "cannot delete")
        self.notices.forget(list(jids))

    def rerun(self, jids: Sequence[int]) -> None:
        """Run finished jobs again under the same jids (the admin's re-run action)."""
        self._on_finished("rerun", jids, "cannot re-run")
        self.notices.forget(list(jids))

    def _on_finished(self, script: str, jids: Sequence[int], refusal: str) -> None:
        """Run ``script`` on finished jobs; NoSuchJobError / CloudException if some are not."""
        with self._broker_errors():
            args = (self.owner, time.time(), *jids)
            reply = scripts.run(self.redis, script, *args) if jids else [b"ok"]
        if reply[0] == b"missing":
            raise NoSuchJobError(int(reply[1]))
        if reply[0] == b"unfinished":
            unfinished = [int(j) for j in reply[1:]]
            raise CloudException(
                f"{refusal} unfinished jobs ({describe_jids(unfinished)}); "
                "kill them or wait for them first"
            )

    def close(self) -> bool:
        if self._closed:
            return False
        self._closed = True
        self.notices.close(self.redis)
        self.redis.close()
        return True


def _execute(client: redis.Redis, pipe: Any) -> list[Any]:
    """Run a pipeline that calls scripts, loading them and running it again if Redis lost
    them (a failed pipeline forgets its commands: they are put back; its other commands are
    plain writes, the same again)."""
    commands = list(pipe.command_stack)
    try:
        return pipe.execute()
    except redis.exceptions.NoScriptError:
        scripts.load_all(client)
        pipe.command_stack.extend(commands)
        return pipe.execute()


def granted_fields(options: Any) -> dict[str, Any]:
    """The message spec's ``options`` (what a worker needs) and ``queue`` for JobOptions:
    with the function digest, what a signature or a cron's grant covers."""
    return {"options": _wire(options), "queue": queue_name(options.type, options.env)}


def _wire(options: Any) -> dict[str, Any]:
    wire = options.wire
    return {
        "fast_serialization": wire.fast_serialization,
        "profile": wire.profile,
        "kill_process": wire.kill_process,
        "max_runtime": wire.max_runtime,
        "os_env_vars": [list(pair) for pair in wire.os_env_vars],
    }


def _meta(submission: Submission, queue: str, digest: str) -> dict[str, Any]:
    options = submission.options
    return {
        "function": submission.func_name,
        "func": digest,
        "queue": queue,
        "label": options.label,
        "priority": options.priority,
        "depends_on": list(options.depends_on),
        "attributes": options.attributes,
    }
