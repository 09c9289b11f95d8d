"""The bulk upsert: each database's fast path stores exactly what ``bulk_create`` stores."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction

from webui.ledger import upsert as upsert_module
from webui.ledger.models import Job
from webui.ledger.upsert import COLUMNS, UtcText, jobs, upsert

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC).timestamp()
#: Unix times whose text or rounding is awkward: whole seconds, microseconds that round up to
#: the next second or down to none, halves (rounded to even), before 1970, far ahead.
AWKWARD_TIMES = [
    1772368215.0,
    1772368215.9999996,
    1772368215.0000004,
    1772368215.5,
    0.0000005,
    0.0000015,
    1.9999995,
    -1.5,
    -0.0000004,
    -86400.25,
    4102444800.000001,
    253402300799.0,
]
AWKWARD_RUNTIMES = [math.inf, -math.inf, math.nan, 1e-300, 0.1 + 0.2, 1e300, -0.0, 2**53 + 1.0]
AWKWARD_TEXTS = [
    "NULL",
    "null",
    " padded ",
    "a,b",
    "{braces}",
    'back\\slash \\" and quote\\',
    "\\",
    '"',
    "tab\tnew\nline\r",
    "\u3000ideographic\u2028space\u00a0",
    "émoji 🎉",
    "'single'",
    "$$ dollar $1 %s %(x)s",
]


def _row(jid: int, **values: object) -> tuple:
    defaults = dict(
        status="queued", label="", pool="", priority=5, owner="", function="", created=None,
        started=None, finished=None, runtime=None, attempts=0, worker="", error="", updated=NOW,
    )  # fmt: skip
    defaults.update(values)
    return (jid, *(defaults[name] for name in COLUMNS[1:]))


def _rows(status: str = "done") -> list[tuple]:
    return [
        _row(
            1,
            status=status,
            label="ünïcode ✓",
            pool="c2.scipy",
            priority=0,
            owner="key",
            function="mod.f",
            created=NOW,
            started=NOW + 1,
            finished=float(int(NOW)) + 3,
            runtime=1.875,
            attempts=2,
            worker="c2-1@host/77",
            error="Traceback …\nValueError: 'quoted' \"both\"\n" * 50,
        ),
        _row(2, created=NOW),  # nulls and defaults
        *(  # texts an array's text must quote or escape
            _row(3 + i, label=text, owner=text[:64], worker=text, error=text * 3, created=NOW)
            for i, text in enumerate(AWKWARD_TEXTS)
        ),
        *(
            _row(100 + i, created=t, started=t + 0.25, finished=t + 1e-6, updated=t)
            for i, t in enumerate(AWKWARD_TIMES)
        ),
        *(_row(200 + i, runtime=runtime) for i, runtime in enumerate(AWKWARD_RUNTIMES)),
        _row(10**12, status="waiting", updated=NOW - 400 * 86400),
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
    assert repr(_stored()) == repr(expected)  # repr: NaN equals NaN, 1 does not equal 1.0
    assert repr(list(Job.objects.values())) == repr(expected_rows)
    rows = 3 + len(AWKWARD_TEXTS) + len(AWKWARD_TIMES) + len(AWKWARD_RUNTIMES)
    assert len(expected) == rows
    assert {row.label for row in Job.objects.all()} >= set(AWKWARD_TEXTS)
    now = datetime.fromtimestamp(NOW, UTC)
    assert Job.objects.filter(created__gte=now, finished__lt=now + timedelta(seconds=4)).count()


def test_rows_read_back_as_the_datetimes_of_their_unix_times():
    """Whatever the session's time zone (PostgreSQL is given the times as text)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'Asia/Kolkata'")
    try:
        upsert(_rows())
    finally:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TIME ZONE 'UTC'")
    for row in _rows():
        job = Job.objects.get(jid=row[0])
        times = [job.created, job.started, job.finished, job.updated]
        assert times == [
            None if u is None else datetime.fromtimestamp(u, UTC) for u in row[7:10] + row[-1:]
        ]


def test_rows_become_the_jobs_bulk_create_is_given():
    made = jobs(_rows())
    assert made[0].label == "ünïcode ✓" and made[0].attempts == 2
    assert made[0].created == datetime.fromtimestamp(NOW, UTC)
    assert made[1].started is None and made[1].finished is None


def test_the_text_is_the_text_django_stores_in_sqlite():
    """The unix time -> text shortcut against Django's own adaptation of the datetime (naive
    UTC, ``str``), over awkward and random times."""
    text = UtcText(size=50)  # small: the cache of seconds is emptied along the way
    rng = random.Random(7)
    times = [
        *AWKWARD_TIMES,
        *(rng.uniform(0, 4e9) for _ in range(20_000)),
        *(rng.randrange(1_700_000_000, 1_800_000_000) + rng.randrange(10**7) / 1e7
          for _ in range(20_000)),
        *(rng.randrange(1_700_000_000, 1_800_000_000) + (k + 0.5) / 1e6 for k in range(2000)),
    ]  # fmt: skip
    for unix in times:
        assert text(unix) == str(datetime.fromtimestamp(unix, UTC).replace(tzinfo=None)), unix
    assert text(None) is None
    assert len(text._seconds) <= 50
    quoted = UtcText(prefix='"', suffix='+00"', null="NULL")
    assert quoted(NOW) == '"2026-03-01 12:30:15.123456+00"'
    assert quoted(float(int(NOW))) == '"2026-03-01 12:30:15+00"'
    assert quoted(None) == "NULL"


@pytest.mark.sqlite_only
def test_a_sqlite_database_time_zone_is_honoured():
    """With a TIME_ZONE of the database's own, the text is that zone's (Django's adapt)."""
    wrapper = connections[connection.alias]  # the cached properties live on it
    wrapper.settings_dict["TIME_ZONE"] = "Europe/Paris"
    wrapper.__dict__.pop("timezone", None)
    try:
        assert upsert_module._sqlite_time()(NOW) == "2026-03-01 13:30:15.123456"
    finally:
        wrapper.settings_dict["TIME_ZONE"] = None
        wrapper.__dict__.pop("timezone", None)
    assert upsert_module._sqlite_time() is upsert_module._sqlite_text


def _outcome(rows: list[tuple], portable: bool) -> object:
    """What upserting ``rows`` stores, or the error it fails with."""
    try:
        with transaction.atomic():
            upsert(rows, portable=portable)
    except Exception as exc:  # noqa: BLE001 - compared, not handled
        return type(exc)
    stored = _stored()
    Job.objects.all().delete()
    return stored


@pytest.mark.parametrize(
    "values",
    [{"error": "a NUL \x00 byte"}, {"worker": "\x00"}, {"status": None}, {"attempts": None}],
    ids=["nul-error", "nul-worker", "null-status", "null-attempts"],
)
def test_what_the_database_refuses_fails_as_with_bulk_create(values):
    rows = [_row(1, created=NOW), _row(2, **values)]
    expected = _outcome(rows, portable=True)
    assert _outcome(rows, portable=False) == expected


@pytest.mark.parametrize("portable", [False, True], ids=["fast", "bulk_create"])
def test_upsert_updates_the_rows_of_known_jids(portable):
    first = _rows("processing")
    upsert([first[0], first[1], first[-1]], portable=portable)
    upsert([_rows("error")[0], _row(2, status="killed", created=NOW)], portable=portable)
    statuses = list(Job.objects.order_by("jid").values_list("jid", "status"))
    assert statuses == [(1, "error"), (2, "killed"), (10**12, "waiting")]


def test_nothing_to_write():
    upsert([])
    assert not Job.objects.exists()
