"""Signed job messages on real workers: unsigned, tampered, replayed and deactivated-key
messages end their jobs in error and nothing of their payload runs (a pickle that would create
a marker file must not create it); and one key never sees another key's jobs."""

from __future__ import annotations

import os
import pickle
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from picloud import keyring, keys
from picloud.client import Cloud
from picloud.exceptions import CloudException, NoSuchJobError, NoWorkerWarning
from tests import jobfuncs as jf
from tests.queueing import message_of, place, queue_chunk, set_payload, take_all
from tests.services import TEST_API_KEY, TEST_AUTHORITY, keyed_engine, register_key, signed_record

#: A queue no worker serves: submitted jobs wait there until a test moves their message.
HELD = "c1.held"


class CreatesFile:
    """Unpickling this creates ``path``: the payload an attacker would slip in."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def client(cluster) -> Iterator[Cloud]:
    made = Cloud(keyed_engine(cluster.url), lambda: "cluster")
    yield made
    made.close()


@pytest.fixture
def broker(cluster) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(cluster.url)
    yield client
    client.close()


def _held_job(client: Cloud, *args, func: Any = jf.touch_then_return) -> int:
    """Submit ``func(*args)`` to the unserved queue; its message waits there."""
    with pytest.warns(NoWorkerWarning):
        return client.call(func, *args, _env="held")


def _unseen_touch() -> Any:
    """``touch_then_return`` as a function no worker has run yet (a closure over a fresh token,
    shipped by value): a worker reads its pickle from the broker, not from what it kept."""
    token = secrets.token_hex(8)

    def touch(path: str | None, value: Any = None) -> Any:
        assert token
        return value if path is None else jf.touch_then_return(path, value)

    return touch


def _release(broker: redis.Redis) -> None:
    """Move every held chunk to c1 (same priority), where a worker takes it."""
    for chunk, priority in take_all(broker, HELD):
        place(broker, "c1", chunk, priority)


def _error_of(client: Cloud, jid: int) -> str:
    with pytest.raises(CloudException) as caught:
        client.result(jid, timeout=30)
    return str(caught.value)


def _forge_job(broker: redis.Redis, jid: int, chunk: str, key: str = TEST_API_KEY) -> None:
    """Write a queued job hash the way the submit script would."""
    broker.hset(
        keys.job(jid),
        mapping={
            "status": "queued",
            "batch": jid,
            "chunk": chunk,
            "created": time.time(),
            "owner": key,
        },
    )
    broker.hset(keys.batch(jid), mapping={"n": 1, "owner": key, "meta": "{}"})


def _spec_of(broker: redis.Redis, jid: int) -> dict:
    return message_of(broker, broker.hget(keys.job(jid), "chunk").decode())


def test_a_hand_written_unsigned_message_runs_nothing(client, broker, tmp_path):
    marker = str(tmp_path / "marker")
    jid = client.call(jf.square, 3)  # any fresh jid of this key, to hand-write a neighbour
    assert client.result(jid, timeout=30) == 9
    forged = jid + 1_000_000
    broker.set(keys.chunk("forged"), pickle.dumps([pickle.dumps(((), {}))]))
    broker.set(keys.function("evil"), pickle.dumps(CreatesFile(marker)))
    _forge_job(broker, forged, "forged")
    spec = {
        "func": "evil",
        "options": {},
        "queue": "c1",
        "chunk": "forged",
        "count": 1,
        "first": forged,
    }
    queue_chunk(broker, "forged", spec, first=forged, key=TEST_API_KEY)
    text = _error_of(client, forged)
    assert "not signed" in text and "before anything of it ran" in text
    assert not os.path.exists(marker)


@pytest.mark.parametrize("part", ["arguments", "function"])
def test_a_tampered_message_runs_nothing(client, broker, tmp_path, part):
    marker, benign = str(tmp_path / "marker"), str(tmp_path / "benign")
    jid = _held_job(client, benign, "fine", func=_unseen_touch())
    spec = _spec_of(broker, jid)
    if part == "arguments":
        set_payload(broker, spec["chunk"], pickle.dumps([pickle.dumps(CreatesFile(marker))]))
    else:
        broker.set(keys.function(spec["func"]), pickle.dumps(CreatesFile(marker)))
    _release(broker)
    text = _error_of(client, jid)
    assert "signature does not match" in text or "not the one it was signed with" in text
    assert not os.path.exists(marker) and not os.path.exists(benign)


def test_a_function_replaced_after_a_worker_checked_it_runs_as_signed(client, broker, tmp_path):
    """Workers keep the functions they checked, by digest: one replaced in the broker later
    is not read again, so the job runs the function it was signed with, never the new one."""
    marker, ran = str(tmp_path / "marker"), str(tmp_path / "ran")
    touch = _unseen_touch()
    for _ in range(4):  # every pool process of c1 has run it, and kept it
        assert client.result(client.map(touch, [None] * 8), timeout=30) == [None] * 8
    spec = _spec_of(broker, client.call(touch, None))
    broker.set(keys.function(spec["func"]), pickle.dumps(CreatesFile(marker)))
    assert client.result(client.call(touch, ran, "signed"), timeout=30) == "signed"
    assert os.path.exists(ran) and not os.path.exists(marker)


def test_a_signed_message_replayed_for_another_job_runs_nothing(client, broker, tmp_path):
    ran = str(tmp_path / "ran")
    jid = _held_job(client, ran, "once")
    spec = _spec_of(broker, jid)
    _release(broker)
    assert client.result(jid, timeout=30) == "once"
    os.remove(ran)
    replayed = jid + 1_000_000
    _forge_job(broker, replayed, spec["chunk"])
    queue_chunk(broker, spec["chunk"], {**spec, "first": replayed}, first=replayed, key=spec["key"])
    assert "signature does not match" in _error_of(client, replayed)
    # the same message sent again for its own (finished) job runs nothing either
    queue_chunk(broker, spec["chunk"], spec, first=jid, key=spec["key"])
    client.call(jf.square, 1)  # a job behind it on the same queue...
    jf.wait_for(
        lambda: broker.zcard(keys.queue("c1")) == 0, 30, "the replayed message to be consumed"
    )
    assert client.result(client.call(jf.square, 2), timeout=30) == 4  # ...and after it
    assert not os.path.exists(ran) and client.status(jid) == "done"


def test_a_deactivated_or_unknown_key_runs_nothing(client, broker, cluster, tmp_path):
    ran = str(tmp_path / "ran")
    jid = _held_job(client, ran, "x")
    public = signed_record(broker, keys.api_key(TEST_API_KEY))["public"]
    keyring.publish(broker, TEST_AUTHORITY, TEST_API_KEY, public, active=False)
    try:
        _release(broker)
        assert f"API key '{TEST_API_KEY}' is deactivated" in _error_of(client, jid)
    finally:
        register_key(broker)
    stranger = Cloud(keyed_engine(cluster.url, "4242", "s" * 40), lambda: "cluster")
    try:
        with pytest.warns(NoWorkerWarning):
            other = stranger.call(jf.touch_then_return, ran, "y", _env="held")
        keyring.withdraw(broker, TEST_AUTHORITY, "4242")
        _release(broker)
        assert "API key '4242' is not known" in _error_of(stranger, other)
    finally:
        stranger.close()
    assert not os.path.exists(ran)


def test_another_keys_jobs_look_like_jobs_that_do_not_exist(client, cluster):
    mine = client.call(jf.square, 5)
    assert client.result(mine, timeout=30) == 25
    other = Cloud(keyed_engine(cluster.url, "2002", "b" * 40), lambda: "cluster")
    try:
        missing = mine + 10_000_000
        for jid in (mine, missing):
            for action in (other.status, other.result, other.info, other.kill, other.delete):
                with pytest.raises(NoSuchJobError) as caught:
                    action(jid)
                assert str(caught.value) == str(NoSuchJobError(jid))
        mapped = client.map(jf.square, range(3))  # read as one run of jids
        client.join(mapped, timeout=30)
        for action in (other.status, other.result):
            with pytest.raises(NoSuchJobError) as caught:
                action(mapped)
            assert str(caught.value) == str(NoSuchJobError(mapped[0]))
        with pytest.raises(CloudException, match=f"dependency does not exist: job {mine}"):
            other.call(jf.square, 1, _depends_on=mine)
        assert other.result(other.call(jf.square, 3), timeout=30) == 9
    finally:
        other.close()
    assert client.status(mine) == "done" and client.result(mine) == 25
