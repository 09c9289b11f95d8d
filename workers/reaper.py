"""Recovering jobs from workers that died: expired chunk leases go back to their queue
(restartable jobs) or fail naming the lost worker. Also tells clients which pools are served."""

from __future__ import annotations

import logging
import socket
import threading
import time

import redis

from picloud import broker, keys
from picloud.engines.cluster import scripts
from workers.chunk import MAX_ATTEMPTS

log = logging.getLogger("picloud.worker")
#: Seconds between two sweeps (and two pool heartbeats).
INTERVAL = 5.0
#: Seconds after which a worker's heartbeat field is dropped from WORKER_HEARTBEATS.
WORKER_HEARTBEAT_TTL = 60.0


class Reaper:
    """Runs in every worker's main process; one at a time sweeps (a Redis lock)."""

    def __init__(self, queues: list[str], node: str | None = None) -> None:
        self.queues = queues
        self.name = f"{socket.gethostname()}:{threading.get_native_id()}"
        #: the Celery node name (``c1@host``) this worker's heartbeats carry
        self.node = node or self.name
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="picloud-reaper", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        client = broker.connect(broker.broker_url())
        scripts.load_all(client)
        while not self._stop.is_set():
            try:
                self.beat(client)
                self.sweep(client)
            except redis.RedisError as exc:
                log.warning("picloud reaper: %s", exc)
            self._stop.wait(INTERVAL)

    def beat(self, client: redis.Redis) -> None:
        """Say that this worker serves its queues, per pool and per worker; drop the worker
        fields not renewed for WORKER_HEARTBEAT_TTL seconds (a worker gone for good)."""
        now = time.time()
        pipe = client.pipeline(transaction=False)
        pipe.hset(keys.POOL_HEARTBEATS, mapping={queue: now for queue in self.queues})
        mine = {f"{queue} {self.node}": now for queue in self.queues}
        pipe.hset(keys.WORKER_HEARTBEATS, mapping=mine)
        pipe.hgetall(keys.WORKER_HEARTBEATS)
        seen = pipe.execute()[-1]
        stale = [field for field, last in seen.items() if now - float(last) > WORKER_HEARTBEAT_TTL]
        if stale:
            client.hdel(keys.WORKER_HEARTBEATS, *stale)

    def sweep(self, client: redis.Redis) -> int:
        """Requeue or fail the jobs of every expired lease; return how many chunks."""
        if not client.set(keys.REAPER_LOCK, self.name, nx=True, ex=int(INTERVAL * 2)):
            return 0
        expired = client.zrangebyscore(keys.LEASES, "-inf", time.time())
        for chunk in expired:
            requeued = scripts.run(client, "requeue", time.time(), chunk, MAX_ATTEMPTS)
            log.warning(
                "picloud reaper: chunk %s lost its worker; %s job(s) requeued",
                chunk.decode(),
                requeued,
            )
        return len(expired)
