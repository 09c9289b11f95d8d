"""The bulk upsert: each database's fast path stores exactly what ``bulk_create`` stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from webui.ledger.models import Job
from webui.ledger.upsert import upsert

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _rows(status: str = "done") -> list[Job]:
    return [
        Job(
            jid=1,
            status=status,
            label="ünïcode ✓",
            pool="c2.scipy",
            priority=0,
            owner="key",
            function="mod.f",
            created=NOW,
            started=NOW + timedelta(seconds=1),
            finished=NOW.replace(microsecond=0) + timedelta(seconds=3),
            runtime=1.875,
            attempts=2,
            worker="c2-1@host/77",
            error="Traceback …\nValueError: 'quoted' \"both\"\n" * 50,
            updated=NOW,
        ),
        Job(jid=2, status="queued", created=NOW, updated=NOW),  # nulls and defaults
        Job(jid=10**12, status="waiting", updated=NOW - timedelta(days=400)),
    ]


def _stored() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Job._meta.db_table} ORDER BY jid")
        return cursor.fetchall()


def test_the_fast_path_stores_what_bulk_create_stores():
    upsert(_rows(), portable=True)
    expected, expected_rows = _stored(), list(Job.objects.values())
    Job.objects.all().delete()
    upsert(_rows())
    assert _stored() == expected
    assert list(Job.objects.values()) == expected_rows
    assert Job.objects.filter(created__gte=NOW, finished__lt=NOW + timedelta(seconds=4)).count()


@pytest.mark.parametrize("portable", [False, True], ids=["fast", "bulk_create"])
def test_upsert_updates_the_rows_of_known_jids(portable):
    upsert(_rows("processing"), portable=portable)
    later = _rows("error")
    later[1].status = "killed"
    upsert(later[:2], portable=portable)
    statuses = list(Job.objects.order_by("jid").values_list("jid", "status"))
    assert statuses == [(1, "error"), (2, "killed"), (10**12, "waiting")]


def test_nothing_to_write():
    upsert([])
    assert not Job.objects.exists()
