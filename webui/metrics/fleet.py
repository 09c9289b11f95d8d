"""The broker's metrics, read at scrape time: each queue's depth per priority and the wait of
its oldest job, each pool's live workers, and how far the recorder is behind the ledger stream.
A few pipelined reads; nothing is written."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis
from prometheus_client.core import GaugeMetricFamily, Metric

from picloud import keys
from picloud.engines.cluster.messages import MAX_PRIORITY, score_range
from webui.dashboard import pools
from webui.ledger.recorder import GROUP

PRIORITIES = range(MAX_PRIORITY + 1)


@dataclass
class FleetState:
    """What the broker said."""

    #: queue -> live workers (Celery nodes that beat within POOL_ALIVE_SECONDS)
    workers: dict[str, int] = field(default_factory=dict)
    #: (queue, priority) -> chunks waiting
    depths: dict[tuple[str, int], int] = field(default_factory=dict)
    #: queue -> seconds its longest-waiting queued job has waited since it was submitted
    oldest: dict[str, float] = field(default_factory=dict)
    #: seconds the oldest ledger event not yet recorded has waited
    recorder_lag: float = 0.0


def read_queues(client: redis.Redis, names: list[str], now: float) -> tuple[dict, dict]:
    """Depth per (queue, priority), and per queue the wait of the job at the head of each
    priority (the next to run of it; the longest waiting of them counts)."""
    pipe = client.pipeline(transaction=False)
    for queue in names:
        for priority in PRIORITIES:
            low, high = score_range(priority)
            pipe.zcount(keys.queue(queue), low, high)
            pipe.zrangebyscore(keys.queue(queue), low, high, start=0, num=1)
    replies = iter(pipe.execute())
    depths, heads = {}, []
    for queue in names:
        for priority in PRIORITIES:
            depths[queue, priority] = int(next(replies))
            for chunk in next(replies):
                heads.append(queue)
                pipe.hget(keys.chunk_message(chunk.decode()), "first")
    firsts = pipe.execute()
    for first in firsts:
        pipe.hget(keys.job(int(first or 0)), "created")
    oldest = dict.fromkeys(names, 0.0)
    for queue, created in zip(heads, pipe.execute()):
        if created is not None:
            oldest[queue] = max(oldest[queue], now - float(created))
    return depths, oldest


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def recorder_lag(client: redis.Redis) -> float:
    """Seconds since the oldest ledger event the recorders' group has not acknowledged (read
    and pending, or not read yet) was added, by the broker's clock; 0 when there is none."""
    seconds, micros = client.time()
    try:
        groups = client.xinfo_groups(keys.EVENTS)
    except redis.ResponseError:  # no stream yet: nothing happened
        return 0.0
    group = next((g for g in groups if _text(g["name"]) == GROUP), None)
    after = "-" if group is None else "(" + _text(group["last-delivered-id"])
    waiting = [_text(entry_id) for entry_id, _ in client.xrange(keys.EVENTS, after, count=1)]
    if group is not None and group["pending"]:
        waiting.append(_text(client.xpending(keys.EVENTS, GROUP)["min"]))
    if not waiting:
        return 0.0
    added_ms = min(int(entry_id.partition("-")[0]) for entry_id in waiting)
    return max(seconds * 1000 + micros // 1000 - added_ms, 0) / 1000


def read(client: redis.Redis, known: Iterable[str] = (), now: float | None = None) -> FleetState:
    """The fleet as the broker sees it; ``known`` adds queues (the ledger's pools) to the pools'
    own and those workers beat for."""
    now = time.time() if now is None else now
    served = pools.read_queues(client, now)
    names = pools.queue_names([*(q.queue for q in served), *known])
    depths, oldest = read_queues(client, names, now)
    workers = dict.fromkeys(names, 0) | {q.queue: len(q.workers) for q in served}
    return FleetState(workers, depths, oldest, recorder_lag(client))


def families(state: FleetState) -> list[Metric]:
    depth = GaugeMetricFamily(
        "picloud_queue_depth",
        "Chunks waiting in each pool's queue per priority (a call, or a chunk of a map)",
        labels=["pool", "priority"],
    )
    for (queue, priority), messages in state.depths.items():
        depth.add_metric([queue, str(priority)], messages)
    oldest = GaugeMetricFamily(
        "picloud_queue_oldest_job_age_seconds",
        "Seconds since the longest-waiting queued job of each pool was submitted (0: none)",
        labels=["pool"],
    )
    for queue, age in state.oldest.items():
        oldest.add_metric([queue], age)
    workers = GaugeMetricFamily(
        "picloud_workers", "Live workers (Celery nodes) serving each pool", labels=["pool"]
    )
    for queue, count in state.workers.items():
        workers.add_metric([queue], count)
    lag = GaugeMetricFamily(
        "picloud_recorder_lag_seconds",
        "Seconds the oldest job event the recorder has not written to the ledger has waited",
        value=state.recorder_lag,
    )
    return [depth, oldest, workers, lag]
