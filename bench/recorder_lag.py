"""``python bench/recorder_lag.py``: how far the recorder lags behind a busy fleet.

A producer process writes synthetic jobs into a fresh redis-server the way the Lua scripts do
(job hashes, batch meta, one ledger event per submission / chunk start / chunk end) at a steady
rate; the recorder, in this process, turns them into Job rows. Printed per database (SQLite,
PostgreSQL; each in a fresh database of its own):

- capacity: rows/s when draining a backlog of already finished jobs;
- live: at ``--rate`` jobs/s for ``--seconds``, the lag of each batch (from its oldest event
  being written to its rows being committed): median, p95, worst, and the rows/s achieved.

Options: ``--rate`` (10000), ``--seconds`` (10), ``--map`` (jobs per submission, 1 = single
calls; default 500), ``--chunk`` (jobs per chunk message; default 16), ``--backlog`` (50000),
``--db sqlite|postgres|both``."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time

from databases import REPO, in_fresh_database  # bench/databases.py, beside this script

#: Seconds between the producer's ticks; a job is queued, started and finished a tick apart.
TICK = 0.05


# --- the producer: synthetic jobs as the Lua scripts write them -------------------------------
#: Submit maps of jobs. ARGV: now, owner, meta, then (start, n) per map. Like submit.lua.
SUBMIT = """
local now, owner, meta = ARGV[1], ARGV[2], ARGV[3]
for i = 4, #ARGV, 2 do
  local start, n = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  redis.call('HSET', 'pc:batch:' .. start, 'n', n, 'owner', owner, 'created', now, 'meta', meta)
  for j = start, start + n - 1 do
    redis.call('HSET', 'pc:job:' .. j, 'status', 'queued', 'batch', start, 'created', now,
      'owner', owner)
  end
  local range = (n == 1) and tostring(start) or (start .. '-' .. (start + n - 1))
  redis.call('XADD', 'pc:events', '*', 'status', 'queued', 'jids', range, 'time', now)
end
"""
#: Start or finish chunks. ARGV: status, now, then (first, count) per chunk. Like claim.lua
#: and finish.lua.
ADVANCE = """
local status, now = ARGV[1], ARGV[2]
for i = 3, #ARGV, 2 do
  local first, n = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  for j = first, first + n - 1 do
    if status == 'processing' then
      redis.call('HSET', 'pc:job:' .. j, 'status', status, 'started', now,
        'worker', 'bench@host/1', 'attempts', 1)
    else
      redis.call('HSET', 'pc:job:' .. j, 'status', status, 'finished', now, 'runtime', 0.05)
    end
  end
  local range = (n == 1) and tostring(first) or (first .. '-' .. (first + n - 1))
  redis.call('XADD', 'pc:events', '*', 'status', status, 'jids', range, 'time', now)
end
"""


class Producer:
    """Writes jobs as the fleet's Lua scripts do: submitted (queued), a tick later started by
    a worker (processing, one event per chunk), one more tick later done."""

    def __init__(self, url: str, map_size: int, chunk: int) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)
        self.map_size = map_size
        self.chunk = chunk
        self.meta = json.dumps(
            {"function": "bench.work", "func": "0" * 64, "queue": "c1", "label": "bench",
             "priority": 5, "depends_on": [], "attributes": {}}
        )  # fmt: skip
        self._submit = self.redis.register_script(SUBMIT)
        self._advance = self.redis.register_script(ADVANCE)

    def submit(self, pipe, n: int, now: float) -> list[tuple[int, int]]:
        """``n`` jobs in submissions of ``map_size``; returns their chunks (first, count)."""
        from picloud import keys

        start = self.redis.incrby(keys.JID_COUNTER, n) - n + 1  # one block for the tick
        end = start + n
        maps = [(s, min(self.map_size, end - s)) for s in range(start, end, self.map_size)]
        self._submit(args=[now, "bench", self.meta, *(v for m in maps for v in m)], client=pipe)
        return [
            (first, min(self.chunk, s + size - first))
            for s, size in maps
            for first in range(s, s + size, self.chunk)
        ]

    def advance(self, pipe, chunks: list[tuple[int, int]], status: str, now: float) -> None:
        if chunks:
            self._advance(args=[status, now, *(v for c in chunks for v in c)], client=pipe)

    def backlog(self, n: int) -> None:
        """``n`` finished jobs, written as fast as possible."""
        now = time.time()
        for offset in range(0, n, 10_000):
            pipe = self.redis.pipeline(transaction=False)
            chunks = self.submit(pipe, min(10_000, n - offset), now)
            self.advance(pipe, chunks, "processing", now)
            self.advance(pipe, chunks, "done", now)
            pipe.execute()

    def steady(self, rate: float, seconds: float) -> tuple[int, float]:
        """Jobs at ``rate`` per second for ``seconds``; returns how many, and the seconds it
        took to submit them (longer than ``seconds`` if this process could not keep up)."""
        began = time.monotonic()
        made, queued, running, submitting = 0, [], [], 0.0
        while True:
            elapsed = time.monotonic() - began
            due = int(rate * min(elapsed, seconds)) - made
            if due > 0:
                submitting = elapsed
            now = time.time()
            pipe = self.redis.pipeline(transaction=False)
            self.advance(pipe, running, "done", now)
            self.advance(pipe, queued, "processing", now)
            running, queued = queued, self.submit(pipe, due, now) if due > 0 else []
            made += max(due, 0)
            pipe.execute()
            if elapsed >= seconds and not queued and not running:
                return made, submitting
            time.sleep(max(0.0, TICK - (time.monotonic() - began - elapsed)))


def _produce(url: str, rate: float, seconds: float, map_size: int, chunk: int, out) -> None:
    out.put(Producer(url, map_size, chunk).steady(rate, seconds))


# --- one database -----------------------------------------------------------------------------
def measure(args: argparse.Namespace) -> dict:
    """Run in a process whose DATABASE_URL names a fresh database."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis

    from tests.services import redis_server
    from webui.ledger.models import Job
    from webui.ledger.recorder import Recorder

    result: dict = {}
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        recorder = Recorder(client, consumer="bench", count=args.count)
        recorder.start()

        Producer(url, args.map, args.chunk).backlog(args.backlog)
        began = time.perf_counter()
        recorder.drain()
        took = time.perf_counter() - began
        result["capacity_rows_per_s"] = args.backlog / took
        Job.objects.all().delete()

        spawn = multiprocessing.get_context("spawn")  # no inherited database connection
        out = spawn.Queue()
        producer = spawn.Process(
            target=_produce, args=(url, args.rate, args.seconds, args.map, args.chunk, out)
        )
        before, writes = Job.objects.count(), recorder.progress.rows
        producer.start()
        lags = []
        while True:
            alive = producer.is_alive()
            if recorder.step(block=alive):
                lags.append(recorder.last_lag)
            elif not alive:
                break
        made, submitting = out.get()
        producer.join()
        rows = Job.objects.count() - before
        done = Job.objects.filter(status="done").count()
        lags.sort()
        result.update(
            jobs=made,
            rows=rows,
            all_done=done == made == rows,
            live_jobs_per_s=made / submitting,
            lag_p50=statistics.median(lags),
            lag_p95=lags[int(len(lags) * 0.95)],
            lag_max=lags[-1],
            batches=len(lags),
            writes_per_job=(recorder.progress.rows - writes) / made,
        )
        client.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--map", type=int, default=500)
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--count", type=int, default=5000, help="stream entries per read")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, REPO)
        print(json.dumps(measure(args)))
        return
    print(
        f"recorder lag: {args.rate:,.0f} jobs/s for {args.seconds:g} s, submissions of "
        f"{args.map}, chunks of {args.chunk}; backlog of {args.backlog:,} jobs"
    )
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        r = in_fresh_database(__file__, db)
        print(
            f"{db:>9}: capacity {r['capacity_rows_per_s']:>8,.0f} rows/s | live "
            f"{r['live_jobs_per_s']:>7,.0f} jobs/s, {r['rows']:,} rows "
            f"({'all done' if r['all_done'] else 'MISSING ROWS'}), lag p50 {r['lag_p50']:.2f} s, "
            f"p95 {r['lag_p95']:.2f} s, max {r['lag_max']:.2f} s over {r['batches']} batches "
            f"({r['writes_per_job']:.1f} row writes per job)"
        )


if __name__ == "__main__":
    main()
