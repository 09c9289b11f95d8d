"""Reading many job hashes in one script call per chunk."""

from __future__ import annotations

from picloud import keys
from webui.ledger import hashes


def test_values_come_back_exactly_and_missing_ones_as_none(broker):
    awkward = b"\xff\xff\xff\xff\x00 binary \xe9 and a traceback\n" * 3
    broker.hset(keys.job(1), mapping={"status": "error", "exception": awkward})
    broker.hset(keys.job(3), mapping={"status": "done", "exception": ""})
    got = list(hashes.read(broker, keys.job, [1, 2, 3], ["status", "exception", "worker"]))
    assert got == [(b"error", awkward, None), (None, None, None), (b"done", b"", None)]


def test_many_jobs_are_read_in_chunks(broker, monkeypatch):
    monkeypatch.setattr(hashes, "CHUNK", 7)
    pipe = broker.pipeline()
    for jid in range(1, 31):
        pipe.hset(keys.job(jid), "status", f"s{jid}")
    pipe.execute()
    got = list(hashes.read(broker, keys.job, range(1, 33), ["status"]))
    assert got == [(f"s{j}".encode(),) for j in range(1, 31)] + [(None,), (None,)]


def test_a_redis_that_forgot_the_script_is_taught_again(broker):
    broker.hset(keys.job(5), "status", "queued")
    assert list(hashes.read(broker, keys.job, [5], ["status"])) == [(b"queued",)]
    broker.script_flush()
    assert list(hashes.read(broker, keys.job, [5], ["status"])) == [(b"queued",)]


def test_other_hashes_by_their_key_function(broker):
    broker.hset(keys.batch(40), mapping={"meta": "{}", "owner": "k"})
    assert list(hashes.read(broker, keys.batch, [40, 41], ["owner", "meta"])) == [
        (b"k", b"{}"),
        (None, None),
    ]


def test_nothing_to_read(broker):
    assert list(hashes.read(broker, keys.job, [], ["status"])) == []
