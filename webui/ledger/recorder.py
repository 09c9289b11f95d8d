"""The recorder: consumes the job ledger stream (``pc:events``) with a consumer group and keeps
the Job rows current, in bulk, so no database write sits on the submit or result path.

Each read of up to ``count`` entries becomes: jid ranges expanded and deduplicated, the jobs'
hashes and their batches' meta read in pipelines, one bulk upsert (and a delete for ``deleted``
events), one ``ApiKey.last_used`` update per owner, then XACK. Entries are acknowledged only
after their rows are written, and upserts are idempotent, so a recorder that dies mid-batch
loses nothing and duplicates nothing: its successor re-reads its own pending entries (same
consumer name) or claims them once they have been idle ``claim_idle`` seconds."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass

import redis
from django.db import close_old_connections, connection, transaction
from django.db.models import Max
from django.db.utils import InterfaceError, OperationalError

from picloud import broker, keys
from webui.ledger import events, jobrows
from webui.ledger.models import Job

log = logging.getLogger("picloud.recorder")

#: The consumer group every recorder reads with.
GROUP = "recorder"
#: Stream entries per read.
COUNT = 5000
#: Milliseconds a read waits for new entries.
BLOCK_MS = 1000
#: Seconds the recorder lets events gather after a read that found fewer than a full batch: a
#: busy fleet's events are read, and their rows read and written, some at a time, not one wake
#: per event (a call's three events woke it three times, on the cores its job ran on). The
#: ledger lags by this much more at most.
GATHER_SECONDS = 0.05
#: Seconds a dead consumer's entries stay pending before another recorder claims them.
CLAIM_IDLE = 60.0
#: Jids per upsert when a batch names more (a map of a million jobs is one event).
JIDS_PER_WRITE = 20_000
#: Seconds between progress lines in the log.
REPORT_EVERY = 10.0

#: Raise the jid counter to ARGV[1] unless it is already higher; returns the counter.
_RAISE_COUNTER = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if current < floor then
  redis.call('SET', KEYS[1], ARGV[1])
  return floor
end
return current
"""


#: Errors the recorder waits out (then re-reads what it had not acknowledged).
_OUTAGES = (redis.ConnectionError, redis.TimeoutError, OperationalError, InterfaceError)


@dataclass
class Progress:
    """What the recorder did since the last progress line."""

    events: int = 0
    rows: int = 0
    deleted: int = 0
    max_lag: float = 0.0
    since: float = 0.0


class Recorder:
    """One consumer of the ledger stream, writing Job rows."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        group: str = GROUP,
        consumer: str | None = None,
        count: int = COUNT,
        block_ms: int = BLOCK_MS,
        claim_idle: float = CLAIM_IDLE,
        gather: float = GATHER_SECONDS,
    ) -> None:
        self.redis = client
        self.group = group
        self.consumer = consumer or socket.gethostname()
        self.count = count
        self.block_ms = block_ms
        self.claim_idle = claim_idle
        self.gather = gather
        self.metas = jobrows.MetaCache()
        self.progress = Progress(since=time.monotonic())
        #: read this consumer's pending entries (id 0) before new ones (id >)
        self._backlog = True
        self._raise_counter = client.register_script(_RAISE_COUNTER)
        self._last_claim = 0.0
        #: seconds from the oldest event of the last batch to its rows being written
        self.last_lag: float | None = None

    # --- starting -----------------------------------------------------------------------------
    def start(self) -> None:
        """Create the group (and stream) if needed, raise the jid counter past the ledger's
        highest jid, and take over dead consumers' pending entries."""
        try:
            self.redis.xgroup_create(keys.EVENTS, self.group, id="0", mkstream=True)
            log.info("recorder: created consumer group %r on %s", self.group, keys.EVENTS)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        counter = self.raise_jid_counter()
        log.info(
            "recorder: consumer %r of group %r; jid counter at %d",
            self.consumer,
            self.group,
            counter,
        )
        self._backlog = True
        self.claim_dead()

    def raise_jid_counter(self) -> int:
        """Make sure Redis never hands out a jid the ledger has recorded (a Redis restarted
        empty would start again from 1). Atomic: the counter only ever goes up."""
        highest = Job.objects.aggregate(highest=Max("jid"))["highest"] or 0
        return int(self._raise_counter(keys=[keys.JID_COUNTER], args=[highest]))

    def claim_dead(self) -> int:
        """Claim the entries other consumers left pending for ``claim_idle`` seconds (they died
        before acknowledging); they are then read as this consumer's backlog."""
        self._last_claim = time.monotonic()
        idle_ms = int(self.claim_idle * 1000)
        claimed, cursor = 0, "0-0"
        while True:
            cursor, entries, *_ = self.redis.xautoclaim(
                keys.EVENTS, self.group, self.consumer, idle_ms, start_id=cursor, count=self.count
            )
            claimed += len(entries)
            if cursor in (b"0-0", "0-0"):
                break
        if claimed:
            self._backlog = True
            log.info("recorder: claimed %d entries left pending by dead consumers", claimed)
        self._forget_idle_consumers(idle_ms)
        return claimed

    def _forget_idle_consumers(self, idle_ms: int) -> None:
        for info in self.redis.xinfo_consumers(keys.EVENTS, self.group):
            name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
            if name != self.consumer and not info["pending"] and info["idle"] >= idle_ms:
                self.redis.xgroup_delconsumer(keys.EVENTS, self.group, name)

    # --- recording ----------------------------------------------------------------------------
    def step(self, block: bool = True) -> int:
        """Read one batch of entries (this consumer's pending ones first), write their rows,
        acknowledge them; return how many entries there were (0 when none came)."""
        entries = self._read(block)
        if not entries:
            return 0
        changes = events.collect(entries)
        rows = self._write(changes)
        self.redis.xack(keys.EVENTS, self.group, *changes.ids)
        self._account(changes, rows)
        return changes.events

    def _read(self, block: bool) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        if self._backlog:
            entries = self._xreadgroup("0", None)
            if entries:
                return entries
            self._backlog = False
        return self._xreadgroup(">", self.block_ms if block else None)

    def _xreadgroup(self, start: str, block: int | None) -> list:
        try:
            reply = self.redis.xreadgroup(
                self.group, self.consumer, {keys.EVENTS: start}, count=self.count, block=block
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("recorder: the group is gone (Redis restarted empty?); starting again")
            self.start()
            return []
        return reply[0][1] if reply else []

    def _write(self, changes: events.Changes) -> int:
        """Upsert the changed jobs still in Redis, delete the deleted ones; return the rows
        written."""
        _refresh_db_connection()
        jids = changes.to_upsert()
        written = 0
        for start in range(0, len(jids), JIDS_PER_WRITE):
            rows = jobrows.read_rows(self.redis, jids[start : start + JIDS_PER_WRITE], self.metas)
            with transaction.atomic():
                jobrows.write_rows(rows)
                jobrows.touch_api_keys(rows)
            written += len(rows)
        if changes.deleted:
            with transaction.atomic():
                self.progress.deleted += jobrows.delete_rows(changes.deleted)
        return written

    def _account(self, changes: events.Changes, rows: int) -> None:
        self.progress.events += changes.events
        self.progress.rows += rows
        if changes.oldest is not None:
            self.last_lag = time.time() - changes.oldest
            self.progress.max_lag = max(self.progress.max_lag, self.last_lag)

    def drain(self) -> int:
        """Record every entry there is now, without waiting for more; return their number."""
        total = 0
        while n := self.step(block=False):
            total += n
        return total

    # --- running ------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Record until ``stop`` is set, riding out broker and database outages (what was not
        acknowledged is read again)."""
        started = False
        pause = 0.5
        while not stop.is_set():
            try:
                if not started:
                    self.start()
                    started = True
                elif time.monotonic() - self._last_claim >= self.claim_idle:
                    self.claim_dead()
                read = self.step(block=True)
                self.report()
                pause = 0.5
                if 0 < read < self.count:
                    stop.wait(self.gather)
            except _OUTAGES as exc:
                log.warning("recorder: %s; retrying in %.1f s", _oneline(exc), pause)
                _refresh_db_connection()
                self._backlog = True
                stop.wait(pause)
                pause = min(pause * 2, 10.0)
        self.report(force=True)

    def report(self, force: bool = False) -> None:
        """Log a progress line every REPORT_EVERY seconds (when something happened)."""
        progress = self.progress
        elapsed = time.monotonic() - progress.since
        if elapsed < REPORT_EVERY and not force:
            return
        if progress.events:
            log.info(
                "recorder: %d events -> %d rows written, %d deleted in %.0f s (%.0f rows/s); "
                "worst lag %.2f s",
                progress.events,
                progress.rows,
                progress.deleted,
                elapsed,
                progress.rows / elapsed if elapsed else 0.0,
                progress.max_lag,
            )
        self.progress = Progress(since=time.monotonic())


def _refresh_db_connection() -> None:
    """Drop a broken or expired database connection (Django does this between requests; a
    long-running recorder does it between batches). Never inside a transaction."""
    if not connection.in_atomic_block:
        close_old_connections()


def _oneline(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def connect() -> redis.Redis:
    """A client for the broker picloud is configured with (PICLOUD_BROKER_URL, …)."""
    url = broker.broker_url()
    client = broker.connect(url)
    log.info("recorder: reading %s on %s", keys.EVENTS, broker.redact(url))
    return client
