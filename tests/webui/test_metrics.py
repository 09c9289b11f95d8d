"""/metrics: the counts after known jobs (written as the Lua scripts write them, and run on real
workers behind Django's live server), the finished counter that never goes down, queue depths
and waits, workers, the recorder's lag, a broker that is down, and who may read it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
import requests
from django.db import connection
from django.test import Client
from django.utils import timezone
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families

from picloud import keys
from picloud.client import Cloud
from picloud.exceptions import NoWorkerWarning
from tests import jobfuncs as jf
from tests.browser.fleetdata import beat
from tests.queueing import place, queue_chunk
from tests.services import Worker, keyed_engine, picloud_env, redis_server
from webui.ledger.models import Job
from webui.ledger.recorder import Recorder
from webui.metrics.access import TOKEN_VARIABLE

pytestmark = pytest.mark.django_db

#: A parsed scrape: (sample name, sorted label pairs) -> value.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """The samples of a scrape, read with prometheus_client's own parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def scrape(client: Client, **headers: str) -> Samples:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(response.content.decode())


def stalled(fake, n: int, queue: str) -> range:
    """Jobs that ended without starting (a failed dependency): no runtime."""
    jids = fake.submit(n, queue=queue, status="waiting")
    for jid in jids:
        fake.redis.hset(keys.job(jid), mapping={"status": "stalled", "finished": time.time()})
    fake.event("stalled", jids)
    return jids


def test_counts_match_the_recorded_jobs(client, fake, record):
    fake.run(3, "done", queue="c1")
    fake.run(2, "error", "ValueError: boom", queue="c2.myenv")
    fake.submit(4, queue="m1")
    stalled(fake, 1, "c1")
    slow = fake.submit(2, queue="c1")
    fake.start(slow)
    fake.finish(slow, runtime=42.0)
    record()

    samples = scrape(client)
    assert value(samples, "picloud_jobs", pool="c1", status="done") == 5
    assert value(samples, "picloud_jobs", pool="c1", status="stalled") == 1
    assert value(samples, "picloud_jobs", pool="c1", status="error") == 0  # zeros are there
    assert value(samples, "picloud_jobs", pool="c2.myenv", status="error") == 2
    assert value(samples, "picloud_jobs", pool="m1", status="queued") == 4
    assert value(samples, "picloud_jobs_finished_total", pool="c1", status="done") == 5
    assert value(samples, "picloud_jobs_finished_total", pool="c1", status="stalled") == 1
    assert value(samples, "picloud_jobs_finished_total", pool="c2.myenv", status="error") == 2
    assert value(samples, "picloud_jobs_finished_total", pool="m1", status="queued") is None

    runtime = "picloud_job_runtime_seconds"
    assert value(samples, runtime + "_count", pool="c1") == 5  # the stalled one never ran
    assert value(samples, runtime + "_sum", pool="c1") == 3 * 0.25 + 2 * 42.0
    buckets = {
        dict(labels)["le"]: n
        for (name, labels), n in samples.items()
        if name == runtime + "_bucket" and dict(labels)["pool"] == "c1"
    }
    assert buckets == {"0.5": 3, "60.0": 5, "+Inf": 5}  # the buckets the tally holds
    assert value(samples, runtime + "_bucket", pool="c2.myenv", le="60.0") == 2
    assert value(samples, "picloud_broker_up") == 1


def test_the_finished_counter_never_goes_down(client, fake, record, make_recorder):
    done = fake.run(4, "done", queue="c2")
    record()
    finished = {"pool": "c2", "status": "done"}
    assert value(scrape(client), "picloud_jobs_finished_total", **finished) == 4

    replay = make_recorder("replay", group="replay")  # reads and writes every event again
    replay.drain()
    assert value(scrape(client), "picloud_jobs_finished_total", **finished) == 4

    fake.forget(done[:3])
    fake.event("deleted", done[:3])
    record()
    samples = scrape(client)
    assert value(samples, "picloud_jobs", **finished) == 1
    assert value(samples, "picloud_jobs_finished_total", **finished) == 4

    again = done[3]  # re-run: queued again, then done again
    fake.redis.hset(keys.job(again), "status", "queued")
    fake.event("queued", [again])
    record()
    fake.finish([again], now=time.time() + 1)
    record()
    assert value(scrape(client), "picloud_jobs_finished_total", **finished) == 5


def test_a_rerun_recorded_in_one_read_counts_again(client, fake, record):
    jid = fake.run(1, "done", queue="s1")[0]
    record()
    fake.redis.hset(keys.job(jid), "status", "queued")
    fake.event("queued", [jid])
    fake.finish([jid], now=time.time() + 1)  # both events land in the recorder's next read
    record()
    assert value(scrape(client), "picloud_jobs_finished_total", pool="s1", status="done") == 2


def test_the_jobs_gauge_matches_the_table_after_any_writes(client, fake, record):
    """Finished rows are counted from the tally (jobs - removed), the rest by a query: both
    must match the table after inserts, re-runs, deletes and writes that bypass the recorder."""
    fake.run(6, "done", queue="c1")
    fake.run(3, "error", "x", queue="c2")
    stalled(fake, 2, "m1")
    fake.submit(2, queue="s1")
    record()
    c1, c2 = (list(Job.objects.filter(pool=p).values_list("jid", flat=True)) for p in ("c1", "c2"))
    Job.objects.filter(jid__in=c1[:2]).delete()  # the ORM, as an admin's delete would
    Job.objects.filter(jid=c2[0]).update(status="queued", finished=None)  # a re-run
    Job.objects.filter(pool="m1").update(status="done")  # a finish changed in place
    record()  # replays nothing new

    samples = scrape(client)
    table: dict[tuple[str, str], int] = {}
    for pool, status in Job.objects.values_list("pool", "status"):
        table[pool, status] = table.get((pool, status), 0) + 1
    shown = {
        (dict(labels)["pool"], dict(labels)["status"]): n
        for (name, labels), n in samples.items()
        if name == "picloud_jobs" and n
    }
    assert shown == table
    assert value(samples, "picloud_jobs_finished_total", pool="c1", status="done") == 6
    assert value(samples, "picloud_jobs_finished_total", pool="m1", status="done") == 2


def _enqueue(client: redis.Redis, queue: str, priority: int, first: int) -> None:
    spec = {"first": first, "chunk": f"fake.{first}", "count": 1}
    queue_chunk(client, spec["chunk"], spec, first=first, queue=queue, priority=priority)


def test_queue_depths_per_priority_and_the_oldest_wait(client, fake, broker):
    now = time.time()
    old = fake.submit(queue="c2", created=now - 100)[0]
    newer = fake.submit(queue="c2", created=now - 40)[0]
    newest = fake.submit(queue="c2", created=now - 5)[0]
    _enqueue(broker, "c2", 0, newer)
    _enqueue(broker, "c2", 0, newest)  # behind `newer`: the head of a list is its oldest
    _enqueue(broker, "c2", 7, old)
    place(broker, "c2", "a chunk whose message is gone", 7)

    samples = scrape(client)
    assert value(samples, "picloud_queue_depth", pool="c2", priority="0") == 2
    assert value(samples, "picloud_queue_depth", pool="c2", priority="7") == 2
    assert value(samples, "picloud_queue_depth", pool="c2", priority="3") == 0
    assert value(samples, "picloud_queue_depth", pool="c1", priority="0") == 0
    assert 100 <= value(samples, "picloud_queue_oldest_job_age_seconds", pool="c2") < 110
    assert value(samples, "picloud_queue_oldest_job_age_seconds", pool="c1") == 0


def test_a_queue_only_the_ledger_knows_is_listed(client, fake, broker, record):
    jid = fake.submit(queue="m1.nobody-serves-it")[0]
    _enqueue(broker, "m1.nobody-serves-it", 2, jid)
    record()
    samples = scrape(client)
    assert value(samples, "picloud_queue_depth", pool="m1.nobody-serves-it", priority="2") == 1
    assert value(samples, "picloud_workers", pool="m1.nobody-serves-it") == 0


def test_live_workers_per_pool(client, broker):
    beat(broker, "c1", "c1@a")
    beat(broker, "c1", "c1@b", age=10)
    beat(broker, "c1", "c1@gone", age=60)  # stopped beating: not live
    beat(broker, "c2.myenv", "c2@e")
    samples = scrape(client)
    assert value(samples, "picloud_workers", pool="c1") == 2
    assert value(samples, "picloud_workers", pool="c2.myenv") == 1
    assert value(samples, "picloud_workers", pool="m1") == 0


def test_recorder_lag(client, fake, broker, make_recorder):
    lag = "picloud_recorder_lag_seconds"
    assert value(scrape(client), lag) == 0  # no stream yet
    old_ms = int(time.time() * 1000) - 30_000
    broker.xadd(keys.EVENTS, {"status": "queued", "jids": "1"}, id=f"{old_ms}-0")
    assert 30 <= value(scrape(client), lag) < 35  # nobody read it: no group yet

    broker.xgroup_create(keys.EVENTS, "recorder", id="0")
    broker.xreadgroup("recorder", "slow", {keys.EVENTS: ">"}, count=1)
    assert 30 <= value(scrape(client), lag) < 35  # read, but not written (pending)

    broker.xack(keys.EVENTS, "recorder", f"{old_ms}-0")
    assert value(scrape(client), lag) == 0
    fake.run(2)  # new events, not read yet
    assert 0 <= value(scrape(client), lag) < 5
    make_recorder().drain()
    assert value(scrape(client), lag) == 0


def test_an_unreachable_broker_leaves_the_ledger_metrics(client, unreachable_broker):
    now = timezone.now()
    Job.objects.create(jid=1, status="done", pool="c1", runtime=2.0, finished=now, updated=now)
    Job.objects.create(jid=2, status="queued", pool="c1", updated=now)
    started = time.monotonic()
    samples = scrape(client)
    assert time.monotonic() - started < 5
    assert value(samples, "picloud_broker_up") == 0
    assert value(samples, "picloud_jobs", pool="c1", status="queued") == 1
    assert value(samples, "picloud_jobs_finished_total", pool="c1", status="done") == 1
    assert value(samples, "picloud_job_runtime_seconds_bucket", pool="c1", le="5.0") == 1
    assert not {n for n in names(samples) if n.startswith(("picloud_queue", "picloud_workers"))}


def test_a_scrape_is_two_queries_whatever_the_rows(client, fake, record, django_assert_num_queries):
    fake.run(50, "done", queue="c1")
    fake.run(50, "error", "x", queue="c2")
    record()
    with django_assert_num_queries(2):  # jobs by pool and status; the tally
        scrape(client)


def test_openmetrics_when_asked(client, fake, record):
    fake.run(2, "done", queue="c1")
    record()
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics(response.content.decode())}
    assert families["picloud_jobs_finished"].type == "counter"
    assert families["picloud_job_runtime_seconds"].type == "histogram"


def test_the_tally_triggers_are_installed():
    """A migration that rebuilds the Job table on SQLite drops them (see FinishedTally)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        found = {name for (name,) in cursor.fetchall()}
    assert {"ledger_job_tally_insert", "ledger_job_tally_update"} <= found


# --- who may read it ----------------------------------------------------------------------------


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = "s3cret-metrics-token"
    monkeypatch.setenv(TOKEN_VARIABLE, secret)
    return secret


@pytest.fixture
def no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"])
def test_without_a_token_this_machine_may_read_it(client, broker, no_token, address):
    assert client.get("/metrics", REMOTE_ADDR=address).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"REMOTE_ADDR": "10.1.2.3"},
        {"REMOTE_ADDR": "2001:db8::7"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},  # a proxy's
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_REAL_IP": "203.0.113.9"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=203.0.113.9"},
    ],
)
def test_without_a_token_others_are_refused(client, broker, no_token, headers):
    response = client.get("/metrics", **headers)
    assert response.status_code == 403
    assert TOKEN_VARIABLE in response.content.decode()


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3"])
def test_with_a_token_everyone_needs_it(client, broker, token, address):
    missing = client.get("/metrics", REMOTE_ADDR=address)
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    basic = client.get("/metrics", REMOTE_ADDR=address, HTTP_AUTHORIZATION="Basic " + token)
    assert basic.status_code == 401
    wrong = client.get("/metrics", REMOTE_ADDR=address, HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403 and token not in wrong.content.decode()
    right = client.get("/metrics", REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert right.status_code == 200
    assert parse(right.content.decode())


def test_only_get(client, broker, no_token):
    assert client.post("/metrics").status_code == 405


# --- real jobs on real workers, read over HTTP --------------------------------------------------


@pytest.fixture
def own_fleet(tmp_path) -> Iterator[tuple[str, redis.Redis]]:
    """A Redis of this test's own (so every count is exact) with one worker for c1 and c2 (none
    for m1), which picloud and the web UI use."""
    with redis_server() as url, picloud_env(broker_url=url):
        worker = Worker(url, "c1,c2", 2, tmp_path)
        client = redis.Redis.from_url(url)
        try:
            worker.wait_ready()
            yield url, client
        finally:
            worker.stop()
            client.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_real_jobs_on_real_workers(live_server, own_fleet, no_token):
    url, client = own_fleet
    cloud = Cloud(keyed_engine(url), lambda: "cluster")
    recorder = Recorder(client, consumer="metrics-test")  # the real group: its lag is measured
    recorder.start()

    def metrics() -> Samples:
        response = requests.get(live_server.url + "/metrics", timeout=10)  # from 127.0.0.1
        assert response.status_code == 200, response.text
        return parse(response.text)

    try:
        squares = cloud.map(jf.square, range(3))
        slow = cloud.call(jf.sleep_then_return, 0.3, "slept", _type="c2")
        bad = cloud.call(jf.raise_value_error, "real boom", _type="c2")
        with pytest.warns(NoWorkerWarning):  # no m1 worker: it stays queued
            cloud.call(jf.square, 4, _type="m1", _priority=2)
        submitted = time.time()
        assert cloud.result(squares, timeout=30) == [0, 1, 4]
        assert cloud.result(slow, timeout=30) == "slept"
        jf.wait_status(cloud, bad, "error", timeout=30)
        recorder.drain()

        samples = metrics()
        assert value(samples, "picloud_jobs", pool="c1", status="done") == 3
        assert value(samples, "picloud_jobs", pool="c2", status="done") == 1
        assert value(samples, "picloud_jobs", pool="c2", status="error") == 1
        assert value(samples, "picloud_jobs", pool="m1", status="queued") == 1
        assert value(samples, "picloud_jobs_finished_total", pool="c1", status="done") == 3
        assert value(samples, "picloud_jobs_finished_total", pool="c2", status="error") == 1
        assert value(samples, "picloud_job_runtime_seconds_count", pool="c2") == 2
        assert value(samples, "picloud_job_runtime_seconds_sum", pool="c2") >= 0.3
        assert value(samples, "picloud_queue_depth", pool="m1", priority="2") == 1
        assert value(samples, "picloud_queue_depth", pool="c1", priority="0") == 0
        age = value(samples, "picloud_queue_oldest_job_age_seconds", pool="m1")
        assert time.time() - submitted <= age + 1 < 60
        assert value(samples, "picloud_workers", pool="c1") == 1
        assert value(samples, "picloud_workers", pool="c2") == 1
        assert value(samples, "picloud_workers", pool="m1") == 0
        assert value(samples, "picloud_recorder_lag_seconds") == 0
        assert value(samples, "picloud_broker_up") == 1

        cloud.delete(squares)
        recorder.drain()
        samples = metrics()
        assert value(samples, "picloud_jobs", pool="c1", status="done") == 0
        assert value(samples, "picloud_jobs_finished_total", pool="c1", status="done") == 3
    finally:
        cloud.close()
