"""One fault test's own cluster (Redis, Celery workers, clients) and the faults it injects."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psutil
import redis

from picloud.client import Cloud
from picloud.exceptions import CloudException, NoSuchJobError
from tests.faults.figures import TERMINAL
from tests.faults.ledger import Ledger
from tests.services import RedisServer, Worker, keyed_engine, redis_process

#: The lease (PICLOUD_LEASE_SECONDS) of the small variants' workers.
LEASE = 3.0
#: Seconds between two status reads while waiting for jobs to end.
POLL = 0.2


class FaultCluster:
    """A redis-server, Celery workers of pool c1 and clients, all for one test. Jobs record
    their starts and ends in ``ledger`` (the test's directory)."""

    def __init__(self, directory: Path, server: RedisServer, lease: float | None) -> None:
        self.directory = directory
        self.ledger = Ledger(directory)
        self.server = server
        #: PICLOUD_LEASE_SECONDS of its workers (None: their default)
        self.lease = lease
        self.workers: list[Worker] = []
        self._clouds: list[Cloud] = []
        (directory / "logs").mkdir(exist_ok=True)

    @property
    def jobdir(self) -> str:
        """The directory job functions take as their first argument."""
        return str(self.directory)

    def start_workers(self, *concurrencies: int) -> list[Worker]:
        """One c1 worker per concurrency (started together), ready."""
        env = {} if self.lease is None else {"PICLOUD_LEASE_SECONDS": f"{self.lease:g}"}
        made = [
            Worker(
                self.server.url,
                "c1",
                concurrency,
                self.directory / "logs",
                env=env,
                name=f"c1-{len(self.workers) + index}-{os.getpid()}@%h",
            )
            for index, concurrency in enumerate(concurrencies)
        ]
        self.workers += made
        for worker in made:
            worker.wait_ready()
        return made

    def cloud(self) -> Cloud:
        """A new client of this cluster (closed with it)."""
        made = Cloud(keyed_engine(self.server.url), lambda: "cluster")
        self._clouds.append(made)
        return made

    def pool_pids(self, workers: Sequence[Worker] | None = None) -> list[int]:
        """pids of the pool processes of ``workers`` (default: all)."""
        pids = []
        for worker in self.workers if workers is None else workers:
            try:
                pids += [p.pid for p in psutil.Process(worker.process.pid).children()]
            except psutil.NoSuchProcess:
                pass
        return pids

    def job_pids(self, workers: Sequence[Worker] | None = None) -> list[int]:
        """pids of the processes jobs of ``workers`` run in: their sandboxes, children of
        their pool processes."""
        return [child for pid in self.pool_pids(workers) for child in _children(pid)]

    def log_count(self, text: str) -> int:
        """How many lines of the workers' logs contain ``text``."""
        return sum(line.count(text) for w in self.workers for line in w.log().splitlines())

    def log_tails(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {w.log_path.name}\n" + "\n".join(w.log().splitlines()[-lines:])
            for w in self.workers
        )

    def close(self) -> None:
        for made in self._clouds:
            made.close()
        for worker in self.workers:
            worker.stop()


@contextmanager
def fault_cluster(
    directory: Path,
    *concurrencies: int,
    lease: float | None = LEASE,
    appendonly: bool = False,
    password: str | None = None,
) -> Iterator[FaultCluster]:
    """A FaultCluster with one ready c1 worker per concurrency."""
    with redis_process(appendonly=appendonly, password=password) as server:
        cluster = FaultCluster(directory, server, lease)
        try:
            cluster.start_workers(*concurrencies)
            yield cluster
        finally:
            cluster.close()


def statuses(cloud: Cloud, jids: Sequence[int]) -> dict[int, str]:
    return dict(zip(jids, cloud.status(list(jids))))


def settle(cloud: Cloud, jids: Sequence[int], timeout: float) -> dict[int, str]:
    """Poll until every job is terminal or ``timeout`` s passed; the last statuses read. A read
    that fails because the broker is away (not a missing job) is tried again."""
    deadline = time.monotonic() + timeout
    seen: dict[int, str] = {jid: "unread" for jid in jids}
    while True:
        try:
            seen = statuses(cloud, jids)
        except NoSuchJobError:
            raise
        except CloudException:
            pass
        if all(s in TERMINAL for s in seen.values()) or time.monotonic() > deadline:
            return seen
        time.sleep(POLL)


class Repeat(threading.Thread):
    """Calls ``action`` every ``interval`` s (at most ``limit`` times that it returns True)
    until stopped; keeps what it raised instead of dying of it."""

    def __init__(self, action: Callable[[], bool], interval: float, limit: int) -> None:
        super().__init__(name="fault-injector", daemon=True)
        self.action, self.interval, self.limit = action, interval, limit
        self.done: list[float] = []
        self.errors: list[BaseException] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while len(self.done) < self.limit and not self._stop_event.wait(self.interval):
            try:
                if self.action():
                    self.done.append(time.time())
            except Exception as exc:  # noqa: BLE001 (kept for the test to report)
                self.errors.append(exc)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


@contextmanager
def repeating(action: Callable[[], bool], interval: float, limit: int) -> Iterator[Repeat]:
    """``action`` repeated in a thread while the block runs."""
    thread = Repeat(action, interval, limit)
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


class ChildKiller:
    """SIGKILLs a random pool process of a cluster (its sandboxes, where its jobs run, die
    with it); remembers whom and when. ``sandboxes=True``: a random sandbox instead, the
    process a job runs in (its pool process lives on)."""

    def __init__(self, cluster: FaultCluster, sandboxes: bool = False) -> None:
        self.cluster = cluster
        self.sandboxes = sandboxes
        self.killed: list[tuple[int, float]] = []
        self._dead: set[int] = set()

    def __call__(self) -> bool:
        pools = self.cluster.pool_pids()
        trees = {pid: _children(pid) for pid in pools}
        if self.sandboxes:
            trees = {child: [] for children in trees.values() for child in children}
        if not trees:
            return False
        pid = random.choice(list(trees))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        self.killed.append((pid, time.time()))
        self._dead.update([pid, *trees[pid]])
        return True

    @property
    def pids(self) -> set[int]:
        """Every process killed: the pool processes and the sandboxes that died with them."""
        return set(self._dead)


def _children(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children()]
    except psutil.NoSuchProcess:
        return []


class ClientCutter:
    """Drops every normal client connection of a Redis (workers' and clients'), as a proxy
    or a network cut would, at a moment when a consumer is blocked in BRPOP if one comes
    within a second (an idle connection is reopened by redis-py without anyone noticing);
    remembers how many connections each cut dropped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dropped: list[int] = []

    def __call__(self) -> bool:
        admin = redis.Redis.from_url(self.url)
        try:
            wait_for(lambda: any(c["cmd"] == "brpop" for c in admin.client_list("normal")), 1.0)
            self.dropped.append(int(admin.client_kill_filter(_type="normal", skipme=True)))
        finally:
            admin.close()
        return self.dropped[-1] > 0


def wait_for(predicate: Callable[[], object], timeout: float) -> bool:
    """Poll ``predicate`` until truthy (True) or ``timeout`` s passed (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class Background(threading.Thread):
    """Runs ``call()`` once in a thread; keeps its value or exception and when it returned."""

    def __init__(self, call: Callable[[], object]) -> None:
        super().__init__(name="fault-client", daemon=True)
        self.call = call
        self.value: object = None
        self.error: BaseException | None = None
        self.ended: float | None = None
        self.start()

    def run(self) -> None:
        try:
            self.value = self.call()
        except BaseException as exc:  # noqa: BLE001 (kept for the test to report)
            self.error = exc
        finally:
            self.ended = time.time()
