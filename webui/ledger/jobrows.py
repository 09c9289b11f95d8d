"""Job rows from Redis: job hashes and their batches' meta (cached) read in bulk, made into
Job rows, written with one bulk upsert. The recorder and the admin's actions bring
rows up to date this way."""

from __future__ import annotations

import json
import logging
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
from webui.ledger.upsert import upsert

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
_EPOCH = datetime.fromtimestamp(0, UTC)


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
    until the cache is full; then the oldest half goes."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._items: dict[bytes, BatchMeta] = {}

    def fill(self, client: redis.Redis, batches: Iterable[bytes]) -> dict[bytes, BatchMeta]:
        """The meta of ``batches`` (batch starts as Redis stores them), reading the unknown
        ones in bulk."""
        unknown = [b for b in set(batches) if b not in self._items]
        if unknown:
            starts = [int(start) for start in unknown]
            found = hashes.read(client, keys.batch, starts, ("meta", "owner"))
            for start, (meta, owner) in zip(unknown, found):
                self._items[start] = _batch_meta(meta, owner)
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
        label=_cut(found.get("label") or "", Job, "label"),
        function=_cut(found.get("function") or "", Job, "function"),
        pool=_cut(found.get("queue") or "", Job, "pool"),
        priority=priority if isinstance(priority, int) else 5,
        owner=_text(owner),
    )


def _cut(value: str, model: type, name: str) -> str:
    """``value`` shortened to the column's length (a long label must not fail a batch)."""
    return str(value)[: model._meta.get_field(name).max_length]


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def _when(value: bytes | None) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None


def read_rows(client: redis.Redis, jids: Sequence[int], metas: MetaCache) -> list[Job]:
    """Job rows (unsaved) for the ``jids`` whose hash Redis still has; the rest are gone
    (deleted) and skipped, as is a hash that cannot be read (logged)."""
    read = zip(jids, hashes.read(client, keys.job, jids, JOB_FIELDS))
    found = [(jid, values) for jid, values in read if values[0]]
    meta_of = metas.fill(client, (values[1] for _, values in found if values[1]))
    now = datetime.now(UTC)
    rows = []
    for jid, values in found:
        try:
            rows.append(_row(jid, values, meta_of, now))
        except ValueError as exc:
            log.warning("recorder: skipping job %d, its hash is unreadable (%s)", jid, exc)
    return rows


def _row(jid: int, values: list, meta_of: dict[bytes, BatchMeta], now: datetime) -> Job:
    status, batch, created, started, finished, runtime, worker, attempts, exc, owner = values
    meta = meta_of.get(batch, _NO_META) if batch else _NO_META
    return Job(
        jid=jid,
        status=status.decode("ascii", "replace")[:16],
        label=meta.label,
        pool=meta.pool,
        priority=meta.priority,
        owner=_text(owner)[:64] or meta.owner[:64],
        function=meta.function,
        created=_when(created),
        started=_when(started),
        finished=_when(finished),
        runtime=float(runtime) if runtime else None,
        attempts=int(attempts or 0),
        worker=_text(worker)[:255],
        error=_text(exc),
        updated=now,
    )


def write_rows(rows: list[Job]) -> None:
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


def touch_api_keys(rows: Iterable[Job]) -> None:
    """Move each owner's ``ApiKey.last_used`` forward to its newest job's creation time (one
    UPDATE per owner; never backwards, so replayed old events change nothing)."""
    newest: dict[str, datetime] = {}
    for row in rows:
        if row.owner and row.created and row.created > newest.get(row.owner, _EPOCH):
            newest[row.owner] = row.created
    for owner, when in newest.items():
        older = Q(last_used__lt=when) | Q(last_used__isnull=True)
        ApiKey.objects.filter(older, key=owner).update(last_used=when)


def sync(client: redis.Redis, jids: Sequence[int], metas: MetaCache | None = None) -> list[Job]:
    """Bring the rows of ``jids`` up to date with Redis now (after an admin action); return
    them. Rows of jobs Redis no longer has are left to the recorder's ``deleted`` events."""
    rows = read_rows(client, jids, metas or MetaCache())
    with transaction.atomic():
        write_rows(rows)
        touch_api_keys(rows)
    return rows
