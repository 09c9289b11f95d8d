"""The dashboard's numbers: pools from a real Redis, jobs from the database, the JSON endpoint."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
import redis
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from picloud import keys
from tests.browser.fleetdata import beat, enqueue, job
from webui.dashboard import jobs, pools
from workers.reaper import WORKER_HEARTBEAT_TTL, Reaper

pytestmark = pytest.mark.django_db

TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad input\n'


def by_queue(states: list[pools.QueueState]) -> dict[str, pools.QueueState]:
    return {state.queue: state for state in states}


def test_queues_depths_workers_and_heartbeats(broker: redis.Redis) -> None:
    enqueue(broker, "c1", 2)
    enqueue(broker, "c1", 1, priority=9)
    enqueue(broker, "c2.myenv", 4, priority=3)
    beat(broker, "c1", "c1@a", age=2)
    beat(broker, "c1", "c1@b", age=40)  # too old to be live
    beat(broker, "c2", age=100)
    beat(broker, "c2.myenv", "c2@e", age=1)
    beat(broker, "zz.other", "zz@x")  # not a pool of ours

    states = pools.read_queues(broker)

    assert [s.queue for s in states] == ["c1", "c2", "c2.myenv", "m1", "s1"]
    found = by_queue(states)
    assert [found[q].depth for q in ("c1", "c2", "c2.myenv", "m1", "s1")] == [3, 0, 4, 0, 0]
    assert found["c1"].workers == ["c1@a"]
    assert found["c2.myenv"].workers == ["c2@e"]
    assert found["c2"].workers == [] and found["m1"].workers == []
    assert found["c1"].heartbeat_age == pytest.approx(2, abs=1)
    assert found["c2"].heartbeat_age == pytest.approx(100, abs=1)
    assert found["m1"].heartbeat_age is None
    assert found["c1"].served and not found["c2"].served and not found["m1"].served
    assert found["c2"].description == "2.5 compute units, 800 MB per job"


def test_reaper_beat_names_worker_and_processes_and_drops_old_ones(broker: redis.Redis) -> None:
    beat(broker, "c2", "c2@gone", age=WORKER_HEARTBEAT_TTL + 1)
    beat(broker, "c2", "c2@quiet", age=WORKER_HEARTBEAT_TTL - 20)
    broker.hset(keys.POOL_PROCESSES, mapping={"c2 c2@gone": 4, "c2 c2@quiet": 1})

    Reaper(["c1", "c1.myenv"], "c1@box", processes=3).beat(broker)

    fields = {k.decode() for k in broker.hkeys(keys.WORKER_HEARTBEATS)}
    assert fields == {"c1 c1@box", "c1.myenv c1@box", "c2 c2@quiet"}
    processes = {k.decode(): int(v) for k, v in broker.hgetall(keys.POOL_PROCESSES).items()}
    assert processes == {"c1 c1@box": 3, "c1.myenv c1@box": 3, "c2 c2@quiet": 1}
    assert {k.decode() for k in broker.hkeys(keys.POOL_HEARTBEATS)} >= {"c1", "c1.myenv"}
    found = by_queue(pools.read_queues(broker))
    assert found["c1"].workers == ["c1@box"] and found["c1.myenv"].workers == ["c1@box"]
    assert found["c1"].heartbeat_age == pytest.approx(0, abs=1)


def test_status_counts_in_lifecycle_order() -> None:
    for jid, status in enumerate(["done", "done", "error", "queued", "processing"], start=1):
        job(jid, status, ago=5 if status in ("done", "error") else None)

    counts = jobs.status_counts()

    assert list(counts) == ["waiting", "queued", "processing", "done", "error", "killed", "stalled"]
    assert counts == {
        "waiting": 0,
        "queued": 1,
        "processing": 1,
        "done": 2,
        "error": 1,
        "killed": 0,
        "stalled": 0,
    }


def test_throughput_counts_jobs_per_minute_over_the_last_hour() -> None:
    now = timezone.now().replace(second=30, microsecond=0)
    finished = {1: now, 2: now - timedelta(seconds=10), 3: now - timedelta(minutes=5)}
    finished |= {4: now - timedelta(minutes=59), 5: now - timedelta(minutes=61)}
    for jid, when in finished.items():
        job(jid, "done", finished=when)
    job(6, "processing")

    chart = jobs.throughput(now)

    assert len(chart["per_minute"]) == jobs.THROUGHPUT_MINUTES
    assert chart["per_minute"][-1] == 2  # the current minute
    assert chart["per_minute"][-6] == 1
    assert chart["per_minute"][0] == 1  # 59 minutes ago; 61 minutes ago is out
    assert sum(chart["per_minute"]) == 4
    assert chart["start"] == (now.replace(second=0) - timedelta(minutes=59)).timestamp()


def test_recent_errors_are_the_last_ten_failures() -> None:
    for jid in range(1, 13):
        job(jid, "error", ago=100 - jid, function="tests.f", label="nightly", error=TRACEBACK)
    job(20, "killed", ago=1, error="JobKilled: killed by cloud.kill\nmore")
    job(21, "stalled", ago=None, error="dependency 3 failed")
    job(22, "done", ago=0)

    rows = jobs.recent_errors()

    assert [r["jid"] for r in rows] == [20, 12, 11, 10, 9, 8, 7, 6, 5, 4]
    assert rows[0]["error"] == "JobKilled: killed by cloud.kill"
    assert (rows[1]["status"], rows[1]["function"], rows[1]["label"]) == (
        "error",
        "tests.f",
        "nightly",
    )
    assert rows[1]["error"] == "ValueError: bad input"
    assert rows[1]["age"] == pytest.approx(88, abs=2)


@pytest.mark.parametrize("name", ["dashboard:index", "dashboard:data"])
def test_staff_only(client: Client, django_user_model, name: str) -> None:
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    client.force_login(django_user_model.objects.create_user("someone", password="pw"))
    assert client.get(url).status_code == 302


def test_data_json_for_staff(admin_client: Client, broker: redis.Redis) -> None:
    enqueue(broker, "m1", 7, priority=5)
    beat(broker, "m1", "m1@big")
    job(1, "done", ago=30)
    job(2, "error", ago=10, function="jobs.explode", error="RuntimeError: boom")

    response = admin_client.get(reverse("dashboard:data"))

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    data = response.json()
    assert data["error"] is None
    assert data["broker"] == os.environ["PICLOUD_BROKER_URL"]
    m1 = next(q for q in data["queues"] if q["queue"] == "m1")
    assert m1 | {"heartbeat_age": 0} == {
        "queue": "m1",
        "description": "3.25 compute units, 8 GB per job",
        "depth": 7,
        "workers": ["m1@big"],
        "heartbeat_age": 0,
        "served": True,
    }
    assert data["statuses"]["done"] == 1 and data["statuses"]["error"] == 1
    assert sum(data["throughput"]["per_minute"]) == 2
    assert [(e["jid"], e["function"], e["error"]) for e in data["errors"]] == [
        (2, "jobs.explode", "RuntimeError: boom")
    ]


def test_page_renders_when_the_broker_is_unreachable(
    admin_client: Client, unreachable_broker: str
) -> None:
    started = time.monotonic()
    page = admin_client.get(reverse("dashboard:index"))
    data = admin_client.get(reverse("dashboard:data")).json()

    assert time.monotonic() - started < 5
    shown = "broker unreachable: " + unreachable_broker.replace("hunter2", "***")
    assert page.status_code == 200
    assert shown in page.content.decode() and "hunter2" not in page.content.decode()
    assert data["error"] == shown and "hunter2" not in data["broker"]
    assert [q["queue"] for q in data["queues"]] == ["c1", "c2", "m1", "s1"]
    assert all(q["depth"] is None for q in data["queues"])
