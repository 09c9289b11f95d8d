"""``python bench/metrics_scrape.py``: what one /metrics scrape costs on a big ledger.

Fills a fresh database (SQLite, PostgreSQL; each its own) with ``--rows`` Job rows (1,000,000)
through the recorder's upsert, so the finished-jobs tally is kept by its triggers as in
production: six pools, nine in ten jobs done, the rest failed, and among the newest twentieth
of the jobs some queued or running (4% of all jobs; they are the ones in flight). A fresh
redis-server gets heartbeats, queued messages on several priorities and a ledger stream with a
consumer group. Then it times ``--scrapes`` scrapes (the text /metrics returns) and prints the
median and the worst, the ledger's queries alone, and the broker's part alone."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time

from databases import REPO, in_fresh_database  # bench/databases.py, beside this script

POOLS = {"c1": 50, "c2": 20, "m1": 10, "s1": 10, "c2.myenv": 5, "c1.gpu": 5}
STATUSES = {"done": 900, "error": 40, "killed": 10, "stalled": 10, "queued": 30, "processing": 10}


def _rows(first: int, n: int, total: int, now: float, rng: random.Random) -> list[tuple]:
    """Job rows in upsert.COLUMNS order; only the newest twentieth of ``total`` are in flight."""
    pools = rng.choices(list(POOLS), weights=list(POOLS.values()), k=n)
    statuses = rng.choices(list(STATUSES), weights=list(STATUSES.values()), k=n)
    rows = []
    for jid, pool, status in zip(range(first, first + n), pools, statuses):
        if status in ("queued", "processing") and jid < total * 0.95:
            status = "done"
        elif jid >= total * 0.95 and status == "done" and rng.random() < 0.8:
            status = rng.choice(["queued", "processing"])
        created = now - rng.uniform(0, 30 * 86400)
        ran = status not in ("queued", "stalled")
        runtime = rng.lognormvariate(0, 2) if ran and status != "processing" else None
        finished = created + (runtime or 0) + 1 if status not in ("queued", "processing") else None
        rows.append(
            (jid, status, "bench", pool, 5, "key", "bench.work", created,
             created + 1 if ran else None, finished, runtime, int(ran), "w@h/1", "", now)
        )  # fmt: skip
    return rows


def _fill_broker(url: str) -> None:
    import redis

    from picloud import keys
    from tests.queueing import queue_chunk

    client = redis.Redis.from_url(url)
    now = time.time()
    for queue in POOLS:
        client.hset(keys.POOL_HEARTBEATS, queue, now)
        for node in range(3):
            client.hset(keys.WORKER_HEARTBEATS, f"{queue} {queue}-{node}@host", now)
        for priority in (0, 5, 9):
            for jid in range(1, 201):
                spec = {"first": jid, "chunk": f"b.{queue}.{priority}.{jid}", "count": 1}
                queue_chunk(client, spec["chunk"], spec, first=jid, queue=queue, priority=priority)
    for jid in range(1, 201):
        client.hset(keys.job(jid), "created", now - 60)
    for n in range(10_000):
        client.xadd(keys.EVENTS, {"status": "done", "jids": str(n), "time": now})
    client.xgroup_create(keys.EVENTS, "recorder", id="0")
    client.xreadgroup("recorder", "bench", {keys.EVENTS: ">"}, count=9_000)
    client.close()


def _timed(function, times: int) -> list[float]:
    took = []
    for _ in range(times):
        began = time.perf_counter()
        function()
        took.append(time.perf_counter() - began)
    return took


def measure(args: argparse.Namespace) -> dict:
    """Run in a process whose DATABASE_URL names a fresh database."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    import redis
    from prometheus_client import generate_latest

    from picloud import broker
    from tests.services import picloud_env, redis_server
    from webui.ledger.upsert import upsert
    from webui.metrics import fleet, ledger
    from webui.metrics.collector import registry

    rng = random.Random(15)
    began, now = time.perf_counter(), time.time()
    for first in range(1, args.rows + 1, 20_000):
        with transaction.atomic():
            upsert(_rows(first, min(20_000, args.rows + 1 - first), args.rows, now, rng))
    filled = time.perf_counter() - began
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE ledger_job")  # as autovacuum would, by now
    with redis_server() as url, picloud_env(broker_url=url):
        _fill_broker(url)
        generate_latest(registry)  # warm up
        scrapes = _timed(lambda: generate_latest(registry), args.scrapes)
        queries = _timed(ledger.families, args.scrapes)
        client = redis.Redis.from_url(broker.broker_url())
        broker_part = _timed(lambda: fleet.read(client, POOLS), args.scrapes)
        client.close()
        size = len(generate_latest(registry))
    return {
        "rows": args.rows,
        "fill_s": filled,
        "scrape_p50": statistics.median(scrapes),
        "scrape_max": max(scrapes),
        "ledger_p50": statistics.median(queries),
        "broker_p50": statistics.median(broker_part),
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, REPO)
        print(json.dumps(measure(args)))
        return
    print(f"/metrics scrape on {args.rows:,} Job rows, {args.scrapes} scrapes")
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        r = in_fresh_database(__file__, db)
        print(
            f"{db:>9}: scrape p50 {r['scrape_p50'] * 1000:,.0f} ms, max "
            f"{r['scrape_max'] * 1000:,.0f} ms (ledger queries {r['ledger_p50'] * 1000:,.0f} ms, "
            f"broker {r['broker_p50'] * 1000:,.1f} ms); {r['bytes']:,} bytes; rows written in "
            f"{r['fill_s']:.0f} s"
        )


if __name__ == "__main__":
    main()
