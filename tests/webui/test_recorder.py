"""The recorder: ledger stream -> Job rows, in bulk, restart-safe, on a real Redis."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from picloud import keys
from tests.jobfuncs import wait_for
from tests.webui.conftest import WORKER
from webui.apikeys.models import ApiKey
from webui.ledger import events, jobrows
from webui.ledger.models import Job
from webui.ledger.recorder import Recorder

pytestmark = pytest.mark.django_db

TRACEBACK = 'Traceback (most recent call last):\n  File "job.py", line 1\nValueError: boom\n'


def _when(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def _pending(broker, group: str = "recorder") -> int:
    return broker.xpending(keys.EVENTS, group)["pending"]


def test_a_finished_job_row_has_every_field(fake, record):
    jid = fake.submit(
        label="nightly", function="mymod.work", queue="c2.scipy", priority=2, owner="key9"
    )[0]
    fake.start([jid])
    fake.finish([jid], "error", TRACEBACK, runtime=1.5)
    assert record() == 3
    job = Job.objects.get()
    assert (job.jid, job.status, job.label, job.function) == (jid, "error", "nightly", "mymod.work")
    assert (job.pool, job.priority, job.owner) == ("c2.scipy", 2, "key9")
    assert (job.runtime, job.attempts, job.worker, job.error) == (1.5, 1, WORKER, TRACEBACK)
    assert job.created <= job.started <= job.finished <= job.updated


@pytest.mark.parametrize("status", ["waiting", "queued"])
def test_unstarted_statuses(fake, record, status):
    jids = fake.submit(3, status=status)
    record()
    rows = Job.objects.order_by("jid")
    assert [(r.jid, r.status, r.started, r.finished, r.attempts) for r in rows] == [
        (jid, status, None, None, 0) for jid in jids
    ]


def test_processing(fake, record):
    jids = fake.submit(2)
    fake.start(jids)
    record()
    assert set(Job.objects.values_list("status", "worker")) == {("processing", WORKER)}
    assert all(j.started and not j.finished for j in Job.objects.all())


@pytest.mark.parametrize("status", ["done", "error", "killed", "stalled"])
def test_finished_statuses(fake, record, status):
    error = "" if status == "done" else f"it ended {status}"
    jids = fake.run(4, status, error)
    record()
    assert list(Job.objects.order_by("jid").values_list("jid", "status", "error")) == [
        (jid, status, error) for jid in jids
    ]


def test_ranges_are_expanded_and_each_job_gets_one_row(fake, record):
    jids = fake.submit(50, label="map")
    fake.start(jids[:20])
    fake.finish(jids[:10])
    fake.start(jids[30:35])
    fake.finish([jids[40], jids[45]], "killed")  # queued jobs killed: "41,46"
    record()
    statuses = dict(Job.objects.values_list("jid", "status"))
    assert sorted(statuses) == list(jids)
    assert [statuses[j] for j in jids[:10]] == ["done"] * 10
    assert [statuses[j] for j in jids[10:20]] == ["processing"] * 10
    assert statuses[jids[40]] == statuses[jids[45]] == "killed"
    assert sum(s == "queued" for s in statuses.values()) == 50 - 20 - 5 - 2


def test_later_events_update_the_same_rows(fake, record):
    jids = fake.submit(5)
    record()
    first = {j.jid: j.updated for j in Job.objects.all()}
    assert set(Job.objects.values_list("status", flat=True)) == {"queued"}
    fake.start(jids)
    fake.finish(jids, "done")
    record()
    assert Job.objects.count() == 5
    assert set(Job.objects.values_list("status", flat=True)) == {"done"}
    assert all(j.updated > first[j.jid] for j in Job.objects.all())


def test_one_read_is_one_bulk_upsert(fake, make_recorder):
    for _ in range(20):
        fake.run(3, "done")  # 60 jobs, 60 events
    recorder = make_recorder()
    with CaptureQueriesContext(connection) as queries:
        assert recorder.step(block=False) == 60
    inserts = [q["sql"] for q in queries if "INSERT INTO" in q["sql"]]  # "60 times: …" if many
    assert len(inserts) == 1 and "ON CONFLICT" in inserts[0]
    assert Job.objects.count() == 60


def test_deleted_events_delete_rows(fake, record):
    kept, gone = fake.run(2), fake.run(3)
    record()
    fake.forget(gone)
    fake.event(events.DELETED, gone)
    record()
    assert list(Job.objects.order_by("jid").values_list("jid", flat=True)) == list(kept)


def test_a_job_deleted_before_it_was_recorded_is_skipped(fake, record):
    kept, gone = fake.run(1), fake.run(2)
    fake.forget(gone)
    record()
    assert list(Job.objects.values_list("jid", flat=True)) == list(kept)


def test_unreadable_entries_are_skipped_and_acknowledged(broker, fake, record):
    broker.xadd(keys.EVENTS, {"status": "done", "jids": "1-x", "time": "1"})
    jid = fake.run()[0]
    assert record() == 4
    assert list(Job.objects.values_list("jid", flat=True)) == [jid]
    assert _pending(broker) == 0


def test_a_recorder_killed_before_acking_is_replayed_once(broker, fake, make_recorder):
    jids = fake.run(30, "done")
    dying = make_recorder("host-a")

    def die(*_args):
        raise SystemExit("killed before XACK")

    dying.redis.xack = die
    with pytest.raises(SystemExit):
        dying.step(block=False)
    assert Job.objects.count() == 30 and _pending(broker) == 3
    fake.finish(jids[:5], "error", "later")  # a newer event comes while it is down
    restarted = make_recorder("host-a")  # same consumer name: re-reads its own pending first
    assert restarted.drain() == 4
    assert Job.objects.count() == 30
    assert Job.objects.filter(status="error").count() == 5
    assert _pending(broker) == 0


def test_entries_read_but_not_written_are_not_lost(broker, fake, make_recorder):
    fake.run(10)
    make_recorder("host-a")._read(block=False)  # read, then died before writing anything
    assert Job.objects.count() == 0 and _pending(broker) == 3
    assert make_recorder("host-a").drain() == 3
    assert Job.objects.count() == 10 and _pending(broker) == 0


def test_a_dead_consumers_entries_are_claimed(broker, fake, make_recorder):
    fake.run(10)
    make_recorder("host-a")._read(block=False)
    other = make_recorder("host-b", claim_idle=0)
    assert other.drain() == 3
    assert Job.objects.count() == 10 and _pending(broker) == 0
    consumers = [c["name"] for c in broker.xinfo_consumers(keys.EVENTS, "recorder")]
    assert consumers == [b"host-b"]  # the dead one, left with nothing pending, is forgotten


def test_a_live_consumers_entries_are_left_alone(broker, fake, make_recorder):
    fake.run(10)
    make_recorder("host-a")._read(block=False)
    assert make_recorder("host-b", claim_idle=60).drain() == 0
    assert Job.objects.count() == 0 and _pending(broker) == 3


def test_the_jid_counter_is_raised_past_the_ledger(broker, make_recorder):
    Job.objects.create(jid=500, status="done", updated=datetime.now(UTC))
    broker.delete(keys.JID_COUNTER)  # a Redis restarted empty
    make_recorder()
    assert int(broker.get(keys.JID_COUNTER)) == 500  # the next jid handed out is 501
    broker.set(keys.JID_COUNTER, 900)
    make_recorder("again")
    assert int(broker.get(keys.JID_COUNTER)) == 900  # never lowered


def test_redis_restarted_empty_while_recording(broker, fake, make_recorder):
    recorder = make_recorder()
    fake.run(3)
    recorder.drain()
    broker.flushall()
    assert recorder.step(block=False) == 0  # no group any more: it starts again
    assert int(broker.get(keys.JID_COUNTER)) == 3
    assert fake.run(1)[0] == 4
    assert recorder.drain() == 3
    assert Job.objects.count() == 4


def _api_key(key: str, last_used: datetime | None = None) -> ApiKey:
    return ApiKey.objects.create(key=key, secret_hash="-", public_key="-", last_used=last_used)


def test_last_used_moves_to_each_owners_newest_job(fake, make_recorder):
    now = datetime.now(UTC).replace(microsecond=0)
    ann, bob, cat = _api_key("ann"), _api_key("bob"), _api_key("cat", now)
    fake.submit(owner="ann", created=(now - timedelta(hours=2)).timestamp())
    fake.submit(2, owner="ann", created=(now - timedelta(hours=1)).timestamp())
    fake.submit(owner="bob", created=(now - timedelta(minutes=5)).timestamp())
    fake.submit(owner="cat", created=(now - timedelta(days=1)).timestamp())  # older: kept
    fake.submit(owner="nobody")
    recorder = make_recorder()
    with CaptureQueriesContext(connection) as queries:
        recorder.drain()
    updates = [q for q in queries if q["sql"].startswith("UPDATE") and "apikey" in q["sql"]]
    assert len(updates) == 4  # one per owner in the batch
    for key, expected in [(ann, now - timedelta(hours=1)), (bob, now - timedelta(minutes=5))]:
        key.refresh_from_db()
        assert key.last_used == expected
    cat.refresh_from_db()
    assert cat.last_used == now


def test_manage_py_record_once(fake, broker, capsys):
    fake.run(7)
    call_command("record", "--once", "--consumer", "cli")
    assert "recorded 3 events" in capsys.readouterr().out
    assert Job.objects.count() == 7
    assert _pending(broker) == 0


def test_manage_py_record_says_when_the_broker_is_unreachable(unreachable_broker):
    with pytest.raises(CommandError, match="cannot reach the broker"):
        call_command("record", "--once")


def _all_acknowledged(broker) -> bool:
    """The recorder group has read and acknowledged every entry (so their rows are written)."""
    last = broker.xinfo_stream(keys.EVENTS)["last-generated-id"]
    groups = broker.xinfo_groups(keys.EVENTS)  # none until the recorder has started
    return bool(groups) and groups[0]["last-delivered-id"] == last and not groups[0]["pending"]


@pytest.mark.django_db(transaction=True)
def test_run_records_until_stopped(broker, fake, make_recorder, caplog):
    recorder: Recorder = make_recorder("runner", start=False, block_ms=50)
    stop = threading.Event()

    def run() -> None:
        try:
            recorder.run(stop)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    # The test waits on Redis, not on the table: an in-memory SQLite test database shared
    # between threads refuses a read while the other thread writes.
    with caplog.at_level("INFO", logger="picloud.recorder"):
        thread.start()
        try:
            fake.run(12, "done")
            wait_for(lambda: _all_acknowledged(broker), 20, "the first jobs recorded")
            fake.run(3, "error", "boom")
            wait_for(lambda: _all_acknowledged(broker), 20, "the next jobs recorded")
        finally:
            stop.set()
            thread.join(20)
    assert not thread.is_alive()
    assert Job.objects.filter(status="done").count() == 12
    assert Job.objects.filter(status="error").count() == 3
    assert "consumer 'runner'" in caplog.text
    assert re.search(r"\d+ events -> \d+ rows written", caplog.text)


def test_an_unreadable_job_hash_is_skipped_not_fatal(broker, fake, record):
    bad, good = fake.run(2)
    broker.hset(keys.job(bad), "created", "not a time")
    broker.hset(keys.batch(bad), "meta", "[1, 2]")  # not the meta of any submission
    assert record() == 3
    assert list(Job.objects.values_list("jid", "label")) == [(good, "")]


def test_a_job_whose_events_come_in_one_read_is_written_once(fake, make_recorder, monkeypatch):
    """Submitted, started and finished between two reads: one row written, the last state,
    ``updated`` the time it was read (after the job finished)."""
    written: list[list[tuple]] = []
    real = jobrows.upsert
    monkeypatch.setattr(jobrows, "upsert", lambda rows: written.append(rows) or real(rows))
    jids = [fake.run(1, "done")[0] for _ in range(5)]  # single calls: 15 events
    recorder = make_recorder()
    assert recorder.step(block=False) == 15
    assert [[row[0] for row in rows] for rows in written] == [jids]
    for job in Job.objects.all():
        assert job.status == "done"
        assert job.created <= job.started <= job.finished <= job.updated
        assert job.updated > datetime.now(UTC) - timedelta(minutes=1)


@pytest.mark.parametrize("created", [b"nan", b"inf", b"-inf", b"1e20", b"", b"1.5e9"])
def test_times_a_datetime_cannot_hold_make_the_hash_unreadable(broker, fake, record, created):
    bad, good = fake.run(2)
    broker.hset(keys.job(bad), "created", created)
    record()
    expected = [bad, good] if created in (b"", b"1.5e9") else [good]
    assert list(Job.objects.order_by("jid").values_list("jid", flat=True)) == expected


def test_batches_that_say_the_same_share_their_meta(fake, broker):
    same = [fake.submit(label="x", owner="ann")[0] for _ in range(3)]
    other = fake.submit(label="x", owner="bob")[0]
    metas = jobrows.MetaCache(parsed=3)
    found = metas.fill(broker, [str(b).encode() for b in [*same, other]])
    made = [found[str(b).encode()] for b in same]
    assert made[0] is made[1] is made[2] and made[0].label == "x" and made[0].owner == "ann"
    assert found[str(other).encode()].owner == "bob"
    assert len(metas._parsed) == 2
    for _ in range(3):  # the parsed ones are forgotten when there are too many
        fake.submit(label=f"new {_}")
    metas.fill(broker, [str(b).encode() for b in range(other + 1, other + 4)])
    assert len(metas._parsed) <= 3


def test_collect_folds_entries_into_changes():
    entries = [
        (b"1-0", {b"status": b"queued", b"jids": b"7", b"time": b"100.5"}),
        (b"2-0", {b"status": b"queued", b"jids": b"1-3,9", b"time": b"99"}),
        (b"3-0", {b"status": b"done", b"jids": b"007", b"time": b"101"}),
        (b"4-0", {b"status": b"deleted", b"jids": b"2,5", b"time": b"102"}),
        (b"5-0", None),  # trimmed while pending
        (b"6-0", {b"status": b"done", b"jids": b"1-x", b"time": b"1"}),
        (b"7-0", {b"status": b"done", b"jids": "８".encode(), b"time": b"1"}),
        (b"8-0", {b"status": b"done", b"jids": b"\xff", b"time": b"1"}),
        (b"9-0", {b"status": b"done", b"jids": b"4", b"time": b"soon"}),
        (b"10-0", {b"status": b"done", b"jids": b""}),
    ]
    changes = events.collect(entries)
    assert changes.events == 10
    assert list(changes.changed) == [7, 1, 2, 3, 9]
    assert changes.deleted == {2, 5}
    assert changes.to_upsert() == [7, 1, 3, 9]
    assert changes.oldest == 99.0
    assert events.collect([]).oldest is None
