"""The bulk upsert of Job rows: one ``INSERT … ON CONFLICT (jid) DO UPDATE`` per batch.

A row is a plain tuple of the ``COLUMNS``' values, its times (created, started, finished,
updated) as unix seconds (float, or None): the recorder makes tens of thousands a second, and
a ``Job`` instance costs more to build than the database takes to write it.

``bulk_create(update_conflicts=True)`` writes the same SQL, but prepares every value through
its field. Here the statement is built once from the model and the rows are bound as tuples of
the values the database driver takes: SQLite inserts up to SQLITE_ROWS rows per statement, its
times as the text Django stores (naive UTC, made straight from the unix time); PostgreSQL
inserts ``unnest``-ed column arrays in a single statement, its times as UTC text too. Other
databases use ``bulk_create``. A test checks that each path stores exactly what ``bulk_create``
stores."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from itertools import chain

from django.db import connection

from webui.ledger.models import Job

#: Every column an upsert overwrites (all but the jid).
UPDATE_FIELDS = [
    "status",
    "label",
    "pool",
    "priority",
    "owner",
    "function",
    "created",
    "started",
    "finished",
    "runtime",
    "attempts",
    "worker",
    "error",
    "updated",
]
#: A row's values, in order.
COLUMNS = ["jid", *UPDATE_FIELDS]
#: The columns whose values are unix times.
TIMES = ("created", "started", "finished", "updated")
_JOB_TIMES = [COLUMNS.index(name) for name in TIMES[:-1]]
_UPDATED = COLUMNS.index("updated")
#: A row: the values of ``COLUMNS``, times as unix seconds or None.
Row = tuple
#: The unix times a datetime can hold (year 1 to 9999).
UNIX_MIN, UNIX_MAX = -62135596800.0, 253402300799.0


def aware(unix: float | None) -> datetime | None:
    """The aware (UTC) datetime of a unix time, as the ORM would be given it."""
    return None if unix is None else datetime.fromtimestamp(unix, UTC)


class UtcText:
    """Unix time -> the text of its UTC datetime, ``str(datetime.fromtimestamp(unix, UTC)
    .replace(tzinfo=None))`` (what Django's SQLite backend stores): 'YYYY-MM-DD HH:MM:SS', then
    '.ffffff' unless the microseconds are 0, rounded as ``fromtimestamp`` rounds (half to
    even); between ``prefix`` and ``suffix``; None -> ``null``. A third of the time ``str``
    takes: the text of each whole second is kept (rows written together are mostly from the
    same few seconds)."""

    def __init__(
        self, prefix: str = "", suffix: str = "", null: str | None = None, size: int = 10_000
    ) -> None:
        self.prefix, self.suffix, self.null = prefix, suffix, null
        self.size = size
        self._seconds: dict[float, str] = {}

    def __call__(self, unix: float | None) -> str | None:
        if unix is None:
            return self.null
        fraction, whole = math.modf(unix)
        micro = round(fraction * 1e6)  # as CPython's fromtimestamp (_PyTime_ROUND_HALF_EVEN)
        if micro >= 1_000_000:
            micro -= 1_000_000
            whole += 1.0
        elif micro < 0:
            micro += 1_000_000
            whole -= 1.0
        second = self._seconds.get(whole)
        if second is None:
            if len(self._seconds) >= self.size:
                self._seconds.clear()
            second = self.prefix + str(datetime.fromtimestamp(whole, UTC).replace(tzinfo=None))
            self._seconds[whole] = second
        return f"{second}.{micro:06d}{self.suffix}" if micro else f"{second}{self.suffix}"


#: Rows per SQLite statement. The Job table's triggers (the finished tally) make SQLite keep a
#: statement journal for each statement, which costs more than a row does (with one row a
#: statement the recorder wrote half as many rows a second); a statement of 100 rows spreads it.
SQLITE_ROWS = 100


@lru_cache(maxsize=8)
def _sql(vendor: str, rows: int = 1) -> str:
    """The upsert statement; SQLite's takes ``rows`` rows of values."""
    quote = connection.ops.quote_name
    fields = [Job._meta.get_field(name) for name in COLUMNS]
    columns = ", ".join(quote(f.column) for f in fields)
    updates = ", ".join(f"{quote(f.column)} = EXCLUDED.{quote(f.column)}" for f in fields[1:])
    conflict = f"ON CONFLICT ({quote(fields[0].column)}) DO UPDATE SET {updates}"
    table = quote(Job._meta.db_table)
    if vendor == "postgresql":
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        return f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) {conflict}"
    marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return f"INSERT INTO {table} ({columns}) VALUES {', '.join([marks] * rows)} {conflict}"


_sqlite_text = UtcText()


def _sqlite_time() -> Callable[[float | None], str | None]:
    """How this connection's SQLite backend stores a unix time."""
    if connection.timezone is UTC:  # USE_TZ, and no TIME_ZONE of the database's own
        return _sqlite_text
    adapt = connection.ops.adapt_datetimefield_value
    return lambda unix: adapt(aware(unix))


def _shared(text: Callable[[float | None], str | None], times: Iterable[float | None]) -> dict:
    """The text of each of ``times``, made once for each value: rows' ``updated`` (the time
    their batch was read) are mostly one."""
    return {unix: text(unix) for unix in set(times)}


def _sqlite(rows: Sequence[Row]) -> None:
    text = _sqlite_time()
    updated_text = _shared(text, [row[_UPDATED] for row in rows])
    # fmt: off
    params = [
        (jid, status, label, pool, priority, owner, function,
         text(created), text(started), text(finished),
         runtime, attempts, worker, error, updated_text[updated])
        for (jid, status, label, pool, priority, owner, function,
             created, started, finished,
             runtime, attempts, worker, error, updated) in rows
    ]  # the order of COLUMNS
    # fmt: on
    with connection.cursor() as cursor:
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        size = max(1, min(SQLITE_ROWS, limit // len(COLUMNS)))
        whole = len(params) - len(params) % size
        for count, part in ((size, params[:whole]), (len(params) - whole, params[whole:])):
            if part:  # executemany: a C loop, and Django logs the statement once, not its values
                flat = [list(chain(*part[i : i + count])) for i in range(0, len(part), count)]
                cursor.executemany(_sql("sqlite", count), flat)


# PostgreSQL: each column is bound as the text of an array ('{1,2}', '{"a","b"}'), made with
# str.join and str.replace: psycopg dumps a list element by element in Python (1 µs each, more
# for a datetime), two thirds of the row's time. A column these cannot write exactly (a None
# where the column has no NULL, a text with a NUL byte) is left to psycopg, which fails on it
# as it does for bulk_create.

#: A time as an element of a timestamptz[]: the UTC text, which PostgreSQL parses into exactly
#: the timestamptz of the datetime.
_postgresql_time = UtcText(prefix='"', suffix='+00"', null="NULL")


def _pg_numbers(column: Sequence) -> str:
    if None in column:
        return "{" + ",".join(["NULL" if v is None else str(v) for v in column]) + "}"
    return "{" + ",".join(map(str, column)) + "}"


def _pg_texts(column: Sequence) -> str | list:
    if None in column:
        return list(column)
    joined = "\0".join(column)
    if joined.count("\0") != len(column) - 1:
        return list(column)
    # inside double quotes an array element escapes only " and \
    return '{"' + joined.replace("\\", "\\\\").replace('"', '\\"').replace("\0", '","') + '"}'


def _pg_times(column: Sequence) -> str:
    return "{" + ",".join(map(_postgresql_time, column)) + "}"


def _pg_updated(column: Sequence) -> str:
    return "{" + ",".join(map(_shared(_postgresql_time, column).__getitem__, column)) + "}"


@cache
def _pg_arrays() -> list[Callable[[Sequence], str | list]]:
    """How to write each of COLUMNS as the text of an array."""
    kinds = {"DateTimeField": _pg_times, "CharField": _pg_texts, "TextField": _pg_texts}
    fields = [Job._meta.get_field(name) for name in COLUMNS]
    arrays = [kinds.get(field.get_internal_type(), _pg_numbers) for field in fields]
    arrays[_UPDATED] = _pg_updated
    return arrays


def _postgresql(rows: Sequence[Row]) -> None:
    arrays = [array(column) for array, column in zip(_pg_arrays(), zip(*rows))]
    with connection.cursor() as cursor:
        cursor.execute(_sql("postgresql"), arrays)


def jobs(rows: Sequence[Row]) -> list[Job]:
    """``rows`` as (unsaved) Job instances."""
    made = []
    for row in rows:
        values = dict(zip(COLUMNS, row))
        for name in TIMES:
            values[name] = aware(values[name])
        made.append(Job(**values))
    return made


def _portable(rows: Sequence[Row]) -> None:
    Job.objects.bulk_create(
        jobs(rows), update_conflicts=True, unique_fields=["jid"], update_fields=UPDATE_FIELDS
    )


_BY_VENDOR = {"sqlite": _sqlite, "postgresql": _postgresql}


def upsert(rows: Sequence[Row], portable: bool = False) -> None:
    """Insert ``rows`` or update the rows of their jids, in one statement; ``portable`` uses
    ``bulk_create`` whatever the database."""
    if rows:
        write = _portable if portable else _BY_VENDOR.get(connection.vendor, _portable)
        write(rows)
