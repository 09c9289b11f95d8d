"""The bulk upsert of Job rows: one ``INSERT … ON CONFLICT (jid) DO UPDATE`` per batch.

``bulk_create(update_conflicts=True)`` writes the same SQL, but prepares every value through
its field (about 45 µs a row: two thirds of the recorder's time). Here the statement is built
once from the model and the rows are bound as plain tuples: SQLite runs it with
``executemany`` (a C loop; about 7x faster), PostgreSQL inserts ``unnest``-ed column arrays in
a single statement (about 1.7x faster). Other databases use ``bulk_create``. A test checks
that each path stores exactly what ``bulk_create`` stores."""

from __future__ import annotations

from functools import cache
from operator import attrgetter

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
COLUMNS = ["jid", *UPDATE_FIELDS]
_DATETIMES = [i for i, name in enumerate(COLUMNS) if name in ("created", "started", "finished")]
_DATETIMES.append(COLUMNS.index("updated"))
_values_of = attrgetter(*COLUMNS)


@cache
def _sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    fields = [Job._meta.get_field(name) for name in COLUMNS]
    columns = ", ".join(quote(f.column) for f in fields)
    updates = ", ".join(f"{quote(f.column)} = EXCLUDED.{quote(f.column)}" for f in fields[1:])
    conflict = f"ON CONFLICT ({quote(fields[0].column)}) DO UPDATE SET {updates}"
    table = quote(Job._meta.db_table)
    if vendor == "postgresql":
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        return f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) {conflict}"
    marks = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {table} ({columns}) VALUES ({marks}) {conflict}"


def _sqlite(rows: list[Job]) -> None:
    adapt = connection.ops.adapt_datetimefield_value
    params = []
    for row in rows:
        values = list(_values_of(row))
        for i in _DATETIMES:
            values[i] = adapt(values[i])
        params.append(values)
    with connection.cursor() as cursor:
        cursor.executemany(_sql("sqlite"), params)


def _postgresql(rows: list[Job]) -> None:
    arrays = [list(column) for column in zip(*map(_values_of, rows))]
    with connection.cursor() as cursor:
        cursor.execute(_sql("postgresql"), arrays)


def _portable(rows: list[Job]) -> None:
    Job.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["jid"], update_fields=UPDATE_FIELDS
    )


_BY_VENDOR = {"sqlite": _sqlite, "postgresql": _postgresql}


def upsert(rows: list[Job], portable: bool = False) -> None:
    """Insert ``rows`` or update the rows of their jids, in one statement; ``portable`` uses
    ``bulk_create`` whatever the database."""
    if rows:
        write = _portable if portable else _BY_VENDOR.get(connection.vendor, _portable)
        write(rows)
