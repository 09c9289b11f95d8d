"""Job rows from Redis: job hashes and their batches' meta (cached) read in bulk, made into
rows (plain tuples, see ``upsert``), written with one bulk upsert. The recorder and the admin's
actions bring rows up to date this way."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

import redis
from django.db import connection, transaction
from django.db.models import Q

from picloud import keys
from webui.apikeys.models import ApiKey
from webui.ledger import hashes
from webui.ledger.models import Job
from webui.ledger.upsert import COLUMNS, UNIX_MAX, UNIX_MIN, Row, upsert

log = logging.getLogger("picloud.recorder")

#: The job hash fields a row is made of, in the order read_rows expects them.
JOB_FIELDS = (
    "status",
    "batch",
    "created",
    "started",
    "finished",
    "runtime",
    "worker",
    "attempts",
    "exception",
    "owner",
)
#: Most jids per DELETE statement (fewer where the database limits a statement's parameters).
DELETE_CHUNK = 5000
_OWNER_AT, _CREATED_AT = COLUMNS.index("owner"), COLUMNS.index("created")


@dataclass(frozen=True)
class BatchMeta:
    """What a submission (a call or a map) says about all of its jobs."""

    label: str = ""
    function: str = ""
    pool: str = ""
    priority: int = 5
    owner: str = ""


class MetaCache:
    """Batch meta by the batch's first jid. A batch's meta never changes, so entries stay
    until the cache is full; then the oldest half goes. Batches whose hashes say the same
    (single calls of one function: a batch each) share one BatchMeta, parsed once."""

    def __init__(self, size: int = 100_000, parsed: int = 10_000) -> None:
        self.size = size
        self._items: dict[bytes, BatchMeta] = {}
        self.parsed = parsed
        self._parsed: dict[tuple[bytes | None, bytes | None], BatchMeta] = {}

    def fill(self, client: redis.Redis, batches: Iterable[bytes]) -> dict[bytes, BatchMeta]:
        """The meta of ``batches`` (batch starts as Redis stores them), reading the unknown
        ones in bulk."""
        unknown = [b for b in set(batches) if b not in self._items]
        if unknown:
            starts = [int(start) for start in unknown]
            found = hashes.read(client, keys.batch, starts, ("meta", "owner"))
            parsed = self._parsed
            for start, said in zip(unknown, found):
                made = parsed.get(said)
                if made is None:
                    if len(parsed) >= self.parsed:
                        parsed.clear()
                    made = parsed[said] = _batch_meta(*said)
                self._items[start] = made
            if len(self._items) > self.size:
                for old in list(islice(self._items, len(self._items) // 2)):
                    del self._items[old]
        return self._items


_NO_META = BatchMeta()


def _batch_meta(meta: bytes | None, owner: bytes | None) -> BatchMeta:
    try:
        found = json.loads(meta) if meta else {}
    except ValueError:
        found = {}
    if not isinstance(found, dict):
        found = {}
    priority = found.get("priority")
    return BatchMeta(
        label=_cut(found.get("label") or "", _LABEL),
        function=_cut(found.get("function") or "", _FUNCTION),
        pool=_cut(found.get("queue") or "", _POOL),
        priority=priority if isinstance(priority, int) else 5,
        owner=_text(owner)[:_OWNER],
    )


_LABEL, _FUNCTION, _POOL, _OWNER, _STATUS, _WORKER = (
    Job._meta.get_field(name).max_length
    for name in ("label", "function", "pool", "owner", "status", "worker")
)


def _cut(value: object, length: int) -> str:
    """``value`` shortened to the column's length (a long label must not fail a batch)."""
    return str(value)[:length]


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def _when(value: bytes | None) -> float | None:
    """The unix time a job hash holds (ValueError if it is not one a datetime can hold)."""
    if not value:
        return None
    unix = float(value)
    if not UNIX_MIN <= unix <= UNIX_MAX:  # also NaN
        raise ValueError(f"time out of range: {value!r}")
    return unix


def read_rows(client: redis.Redis, jids: Sequence[int], metas: MetaCache) -> list[Row]:
    """Job rows (tuples of ``upsert.COLUMNS``' values) for the ``jids`` whose hash Redis still
    has; the rest are gone (deleted) and skipped, as is a hash that cannot be read (logged)."""
    read = zip(jids, hashes.read(client, keys.job, jids, JOB_FIELDS))
    found = [(jid, values) for jid, values in read if values[0]]
    meta_of = metas.fill(client, {values[1] for _, values in found if values[1]})
    now = time.time()
    rows = []
    append = rows.append
    for jid, values in found:
        try:
            append(_row(jid, values, meta_of, now))
        except ValueError as exc:
            log.warning("recorder: skipping job %d, its hash is unreadable (%s)", jid, exc)
    return rows


def _row(jid: int, values: list, meta_of: dict[bytes, BatchMeta], now: float) -> Row:
    status, batch, created, started, finished, runtime, worker, attempts, exc, owner = values
    meta = meta_of.get(batch, _NO_META) if batch else _NO_META
    return (  # the order of upsert.COLUMNS
        jid,
        status.decode("ascii", "replace")[:_STATUS],
        meta.label,
        meta.pool,
        meta.priority,
        owner.decode("utf-8", "replace")[:_OWNER] if owner else meta.owner,
        meta.function,
        _when(created),
        _when(started),
        _when(finished),
        float(runtime) if runtime else None,
        int(attempts) if attempts else 0,
        worker.decode("utf-8", "replace")[:_WORKER] if worker else "",
        exc.decode("utf-8", "replace") if exc else "",
        now,
    )


def write_rows(rows: list[Row]) -> None:
    """Insert or update ``rows`` in one bulk upsert (see ``upsert``)."""
    upsert(rows)


def delete_rows(jids: Iterable[int]) -> int:
    """Delete the rows of ``jids``; return how many there were."""
    ordered = sorted(jids)
    step = min(DELETE_CHUNK, connection.features.max_query_params or DELETE_CHUNK)
    count = 0
    for start in range(0, len(ordered), step):
        count += Job.objects.filter(jid__in=ordered[start : start + step]).delete()[0]
    return count


def touch_api_keys(rows: Iterable[Row]) -> None:
    """Move each owner's ``ApiKey.last_used`` forward to its newest job's creation time (one
    UPDATE per owner; never backwards, so replayed old events change nothing)."""
    newest: dict[str, float] = {}
    get = newest.get
    for row in rows:
        owner, created = row[_OWNER_AT], row[_CREATED_AT]
        if owner and created is not None and created > get(owner, 0.0):
            newest[owner] = created
    for owner, unix in newest.items():
        when = datetime.fromtimestamp(unix, UTC)
        older = Q(last_used__lt=when) | Q(last_used__isnull=True)
        ApiKey.objects.filter(older, key=owner).update(last_used=when)


def sync(client: redis.Redis, jids: Sequence[int], metas: MetaCache | None = None) -> list[Row]:
    """Bring the rows of ``jids`` up to date with Redis now (after an admin action); return
    them. Rows of jobs Redis no longer has are left to the recorder's ``deleted`` events."""
    rows = read_rows(client, jids, metas or MetaCache())
    with transaction.atomic():
        write_rows(rows)
        touch_api_keys(rows)
    return rows
