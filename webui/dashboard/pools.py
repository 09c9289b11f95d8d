"""Pool state as the broker sees it: each queue's depth, live workers and last heartbeat."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from picloud import broker, keys
from picloud.engines.cluster.info import POOL_ALIVE_SECONDS
from picloud.exceptions import CloudException
from workers.pools import POOLS


@dataclass
class QueueState:
    """One queue of a pool (``c2`` or ``c2.myenv``); ``None`` where the broker did not say."""

    queue: str
    description: str
    #: chunks waiting, over all priorities
    depth: int | None = None
    #: Celery node names of the workers that beat within POOL_ALIVE_SECONDS
    workers: list[str] = field(default_factory=list)
    #: seconds since a worker of this queue last beat
    heartbeat_age: float | None = None

    @property
    def served(self) -> bool:
        return self.heartbeat_age is not None and self.heartbeat_age <= POOL_ALIVE_SECONDS


def queue_names(seen: Iterable[str]) -> list[str]:
    """The pools' queues plus the ``_env`` queues of known pools in ``seen``, in pool order."""
    order = list(POOLS)
    names = set(order) | {queue for queue in seen if queue.split(".", 1)[0] in POOLS}
    return sorted(names, key=lambda queue: (order.index(queue.split(".", 1)[0]), queue))


def _seconds(value: bytes) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def read_queues(client: redis.Redis, now: float | None = None) -> list[QueueState]:
    """Every queue's state, read in two pipelines."""
    now = time.time() if now is None else now
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.POOL_HEARTBEATS)
    pipe.hgetall(keys.WORKER_HEARTBEATS)
    pool_beats, worker_beats = pipe.execute()
    last_beat = {k.decode(): _seconds(v) for k, v in pool_beats.items()}
    live: dict[str, list[str]] = {}
    for key, value in worker_beats.items():
        queue, _, node = key.decode(errors="replace").partition(" ")
        seen = _seconds(value)
        if seen is not None and now - seen <= POOL_ALIVE_SECONDS:
            live.setdefault(queue, []).append(node)
    names = queue_names([*last_beat, *live])
    for queue in names:
        pipe.zcard(keys.queue(queue))
    depths = pipe.execute()
    states = []
    for queue, depth in zip(names, depths):
        beat = last_beat.get(queue)
        states.append(
            QueueState(
                queue,
                POOLS[queue.split(".", 1)[0]].description,
                int(depth),
                sorted(live.get(queue, [])),
                None if beat is None else max(now - beat, 0.0),
            )
        )
    return states


class BrokerView:
    """The dashboard's Redis client, reconnected when the broker URL changes or fails."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: tuple[str, redis.Redis] | None = None

    def _connect(self, url: str) -> redis.Redis:
        with self._lock:
            if self._client is not None and self._client[0] == url:
                return self._client[1]
            self._forget()
            client = broker.connect(url)
            self._client = (url, client)
            return client

    def _forget(self) -> None:
        if self._client is not None:
            self._client[1].close()
            self._client = None

    def state(self) -> dict[str, Any]:
        """``{"broker": redacted url, "error": text or None, "queues": [QueueState as dict]}``;
        when the broker cannot be reached the queues are listed with nothing known."""
        url = broker.broker_url()
        shown = broker.redact(url)
        try:
            queues = read_queues(self._connect(url))
            error = None
        except (CloudException, redis.RedisError, OSError):
            with self._lock:
                self._forget()
            queues = [QueueState(name, POOLS[name].description) for name in POOLS]
            error = f"broker unreachable: {shown}"
        return {
            "broker": shown,
            "error": error,
            "queues": [{**asdict(q), "served": q.served} for q in queues],
        }


#: The one view this process uses.
view = BrokerView()
