"""The worker main process's housekeeping thread: it renews its chunks' leases, hands on the
jobs of workers that died (expired leases), re-queues messages a Redis restart may have lost,
and tells clients which pools are served."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

import redis

from picloud import keys
from picloud.engines.cluster import scripts
from picloud.exceptions import CloudException
from workers import holders, leases, progress
from workers.chunk import MAX_ATTEMPTS

log = logging.getLogger("picloud.worker")
#: Seconds between two pool heartbeats (clients call a pool unserved after 30 s without one).
HEARTBEAT_INTERVAL = 10.0
#: Seconds after which a worker's heartbeat field is dropped from WORKER_HEARTBEATS.
WORKER_HEARTBEAT_TTL = 60.0
#: Chunk messages checked per rescan call.
RESCAN_BATCH = 500
WHOLE_WORKER_LOST = "it stopped renewing the chunk's lease (the whole worker was lost)"


class Reaper:
    """Runs in every worker's main process; one at a time sweeps (a Redis lock)."""

    def __init__(
        self,
        queues: list[str],
        node: str | None = None,
        pool_pids: Callable[[], list[int]] = list,
        processes: int = 0,
    ) -> None:
        self.queues = queues
        self.name = f"{socket.gethostname()}:{threading.get_native_id()}"
        #: the Celery node name (``c1@host``) this worker's heartbeats carry
        self.node = node or self.name
        #: this worker's pool processes, whose chunks' leases it renews
        self.pool_pids = pool_pids
        #: the most pool processes this worker runs (0: not said)
        self.processes = processes
        self._stop = threading.Event()
        self._run_id: str | None = None
        #: no sweep before this (monotonic): after a Redis restart, live workers renew first
        self._quiet_until = 0.0
        #: when beat looks for workers gone for good next (monotonic)
        self._next_stale_check = 0.0

    def start(self) -> None:
        threading.Thread(target=self._run, name="picloud-reaper", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        next_beat, fault = 0.0, True
        while not self._stop.is_set():
            try:
                client = leases.main_client()
                if fault:
                    self.check_run(client)
                    fault = False
                leases.renew(client, self.node, self.pool_pids())
                now = time.monotonic()
                if now >= next_beat:
                    self.beat(client)
                    progress.prune()
                    next_beat = now + HEARTBEAT_INTERVAL
                if now >= self._quiet_until:
                    self.sweep(client)
            except (redis.RedisError, CloudException) as exc:
                log.warning("picloud reaper: %s", exc)
                fault = True
            self._stop.wait(leases.RENEW_INTERVAL)

    def check_run(self, client: redis.Redis) -> None:
        """After a start or a broker fault: note whether Redis restarted since we last saw it
        (then wait a lease before sweeping, and rescan once per Redis run)."""
        run_id = str(client.info("server")["run_id"])
        if self._run_id is not None and run_id != self._run_id:
            log.warning("picloud reaper: the broker restarted; resuming")
            self._quiet_until = time.monotonic() + leases.LEASE_SECONDS
        self._run_id = run_id
        if client.set(keys.PREFIX + "rescan:" + run_id, self.name, nx=True, ex=86400):
            self.rescan(client)

    def rescan(self, client: redis.Redis) -> int:
        """Queue again the message of every chunk that still has queued jobs; return how many."""
        pushed, batch = 0, []
        for key in client.scan_iter(match=keys.chunk_message("*"), count=1000):
            batch.append(key.decode().rpartition(":")[2])
            if len(batch) >= RESCAN_BATCH:
                pushed += scripts.run(client, "rescan", *batch)
                batch = []
        if batch:
            pushed += scripts.run(client, "rescan", *batch)
        if pushed:
            log.warning(
                "picloud reaper: %s chunk message(s) with waiting jobs queued again", pushed
            )
        return pushed

    def beat(self, client: redis.Redis) -> None:
        """Say that this worker serves its queues, per pool and per worker; every half
        WORKER_HEARTBEAT_TTL, say its processes again and drop the worker fields not renewed
        for that long (a worker gone for good)."""
        now = time.time()
        pipe = client.pipeline(transaction=False)
        pipe.hset(keys.POOL_HEARTBEATS, mapping={queue: now for queue in self.queues})
        mine = {f"{queue} {self.node}": now for queue in self.queues}
        pipe.hset(keys.WORKER_HEARTBEATS, mapping=mine)
        if time.monotonic() < self._next_stale_check:
            pipe.execute()
            return
        self._next_stale_check = time.monotonic() + WORKER_HEARTBEAT_TTL / 2
        if self.processes:  # seldom changes: said at the first beat, then with each check
            pipe.hset(keys.POOL_PROCESSES, mapping=dict.fromkeys(mine, self.processes))
        pipe.hgetall(keys.WORKER_HEARTBEATS)
        seen = pipe.execute()[-1]
        stale = [field for field, last in seen.items() if now - float(last) > WORKER_HEARTBEAT_TTL]
        if stale:
            pipe = client.pipeline(transaction=False)
            pipe.hdel(keys.WORKER_HEARTBEATS, *stale)
            pipe.hdel(keys.POOL_PROCESSES, *stale)
            pipe.execute()

    def sweep(self, client: redis.Redis) -> int:
        """Hand on the jobs of every expired lease; return how many chunks. (A worker holds
        no chunk without a lease: taking a chunk claims it, in one step.)"""
        if not client.zrangebyscore(keys.LEASES, "-inf", time.time(), start=0, num=1):
            return 0  # the usual case, one command: no lease expired
        lock_ms = max(100, int(leases.RENEW_INTERVAL * 1000) - 100)
        if not client.set(keys.REAPER_LOCK, self.name, nx=True, px=lock_ms):
            return 0
        expired = client.zrangebyscore(keys.LEASES, "-inf", time.time())
        lost = []
        for chunk in expired:
            holder, first = client.hmget(keys.chunk_message(chunk.decode()), "owner", "first")
            if holder is None or first is None:
                lost.append((chunk, "", 0, "unknown", WHOLE_WORKER_LOST))
                continue
            handover = _handover(holder.decode(), int(first))
            if handover is None:
                # a slow renewal (a loaded host), not a lost worker: its process still runs it
                client.zadd(keys.LEASES, {chunk: time.time() + leases.LEASE_SECONDS}, xx=True)
                continue
            lost.append((chunk, *handover))
        for chunk, owner, last, state, why in lost:
            requeued = scripts.run(
                client, "release", time.time(), chunk, owner, last, state, why, MAX_ATTEMPTS
            )
            log.warning(
                "picloud reaper: chunk %s lost its worker %s (%s); %s job(s) handed on",
                chunk.decode(),
                owner or "?",
                why,
                requeued,
            )
        return len(expired)


def _handover(owner: str, first: int) -> tuple[str, int, str, str] | None:
    """How release.lua is to hand on the expired chunk starting at ``first`` held by ``owner``
    (owner, last started jid, its state, what happened), or None while its holder runs it. A
    dead process of this host left its slot: that tells which job ran, so a job that never
    started is not charged; of another host's worker only the chunk's progress record is known."""
    pid = holders.local_pid(owner)
    if pid is None:
        return owner, 0, "unknown", WHOLE_WORKER_LOST
    if holders.is_pool_process(pid):
        if holders.runs(pid, first):
            return None
        return owner, 0, "unknown", f"its process (pid {pid}) stopped running the chunk"
    last, state = progress.known(pid, first)
    return owner, last, state, f"its process (pid {pid}) was lost"
