"""Fixtures for the web UI tests: a real redis-server (one per session, flushed per test) that
picloud is pointed at, synthetic jobs written the way the Lua scripts write them, and
recorders on that Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator

import pytest
import redis

from picloud import keys
from tests.services import free_port, picloud_env, redis_server
from webui.ledger.recorder import Recorder

#: The worker name synthetic jobs run on (Celery node name / pid, as workers write it).
WORKER = "c1-1@testhost/4242"


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    """The admin test users' passwords need no slow hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def broker(redis_url: str) -> Iterator[redis.Redis]:
    """The session's Redis, empty, and picloud configured to use it (PICLOUD_BROKER_URL)."""
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    with picloud_env(broker_url=redis_url):
        yield client
    client.close()


@pytest.fixture
def unreachable_broker() -> Iterator[str]:
    """picloud pointed at a port where no Redis listens."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    with picloud_env(broker_url=url):
        yield url


def ranges(jids: Iterable[int]) -> str:
    """``"1-5,9"``: sorted jids folded into ranges, as the Lua prelude writes them."""
    out: list[str] = []
    ordered = sorted(jids)
    first = last = None
    for jid in [*ordered, None]:
        if first is not None and jid == last + 1:
            last = jid
            continue
        if first is not None:
            out.append(str(first) if first == last else f"{first}-{last}")
        first = last = jid
    return ",".join(out)


class FakeJobs:
    """Jobs written straight into Redis with the hashes, batch meta and ledger events the Lua
    scripts write (submit, claim, finish), without workers. The admin's actions then run the
    real kill/delete/re-run scripts on them."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def event(self, status: str, jids: Iterable[int], now: float | None = None) -> None:
        fields = {"status": status, "jids": ranges(jids), "time": now or time.time()}
        self.redis.xadd(keys.EVENTS, fields)

    def submit(
        self,
        n: int = 1,
        *,
        label: str | None = None,
        function: str = "tests.jobfuncs.square",
        queue: str = "c1",
        priority: int = 5,
        owner: str = "key1",
        status: str = "queued",
        created: float | None = None,
    ) -> range:
        created = created or time.time()
        start = self.redis.incrby(keys.JID_COUNTER, n) - n + 1
        jids = range(start, start + n)
        chunk = f"fake.{start}"
        meta = {
            "function": function,
            "func": "0" * 64,
            "queue": queue,
            "label": label,
            "priority": priority,
            "depends_on": [],
            "attributes": {},
        }
        pipe = self.redis.pipeline()
        pipe.hset(
            keys.batch(start),
            mapping={
                "n": n,
                "state": "released",
                "deperr": "abort",
                "created": created,
                "owner": owner,
                "reply": "pc:reply:fake",
                "restartable": "1",
                "meta": json.dumps(meta),
            },
        )
        message = json.dumps({"fake": True, "first": start})
        pipe.hset(
            keys.chunk_message(chunk),
            mapping={"queue": "test", "message": message, "first": start, "count": n},
        )
        for jid in jids:
            pipe.hset(
                keys.job(jid),
                mapping={
                    "status": status,
                    "batch": start,
                    "chunk": chunk,
                    "reply": "pc:reply:fake",
                    "created": created,
                    "owner": owner,
                },
            )
        pipe.execute()
        self.event(status, jids, created)
        return jids

    def start(self, jids: Iterable[int], worker: str = WORKER, now: float | None = None) -> None:
        jids = list(jids)
        now = now or time.time()
        for jid in jids:
            self.redis.hset(
                keys.job(jid), mapping={"status": "processing", "started": now, "worker": worker}
            )
            self.redis.hincrby(keys.job(jid), "attempts", 1)
        self.event("processing", jids, now)

    def finish(
        self,
        jids: Iterable[int],
        status: str = "done",
        exception: str = "",
        runtime: float = 0.25,
        now: float | None = None,
    ) -> None:
        jids = list(jids)
        now = now or time.time()
        for jid in jids:
            fields: dict[str, object] = {"status": status, "finished": now, "runtime": runtime}
            if status == "done":
                fields["result"] = b"\x80\x05K\x09."  # pickle of 9
            if exception:
                fields["exception"] = exception
            self.redis.hset(keys.job(jid), mapping=fields)
        self.event(status, jids, now)

    def run(self, n: int = 1, status: str = "done", exception: str = "", **submit) -> range:
        """Submit ``n`` jobs, start them and end them with ``status``."""
        jids = self.submit(n, **submit)
        self.start(jids)
        self.finish(jids, status, exception)
        return jids

    def output(self, jid: int, stdout: str = "", stderr: str = "") -> None:
        if stdout:
            self.redis.set(keys.output(jid, "stdout"), stdout)
        if stderr:
            self.redis.set(keys.output(jid, "stderr"), stderr)

    def forget(self, jids: Iterable[int]) -> None:
        """Remove jobs from Redis without a ledger event (as if Redis lost them)."""
        self.redis.delete(*(keys.job(j) for j in jids))


@pytest.fixture
def fake(broker: redis.Redis) -> FakeJobs:
    return FakeJobs(broker)


@pytest.fixture
def make_recorder(broker: redis.Redis, redis_url: str) -> Iterator[Callable[..., Recorder]]:
    """``make_recorder(consumer="a", **options)``: a recorder with its own client; each is
    started (group created, counter raised, dead consumers claimed) unless start=False."""
    clients: list[redis.Redis] = []

    def make(consumer: str = "test", start: bool = True, **options) -> Recorder:
        client = redis.Redis.from_url(redis_url)
        clients.append(client)
        made = Recorder(client, consumer=consumer, **options)
        if start:
            made.start()
        return made

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def record(make_recorder: Callable[..., Recorder]) -> Callable[[], int]:
    """``record()``: drain the stream into Job rows now; returns the entries read."""
    recorder = make_recorder("main")
    return recorder.drain
