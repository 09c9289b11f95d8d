"""Session-wide safety and the ``engine`` / ``cloud`` fixtures shared by every test.

The conformance suite runs every test on each engine of ENGINE_NAMES: the local engine, and
the cluster engine on a session-wide redis-server and Celery workers (``cluster``)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

import picloud.api
import picloud.config
import picloud.mp
from picloud.client import Cloud
from picloud.engines.base import Engine
from picloud.engines.http import HttpEngine
from picloud.engines.local import LocalEngine
from tests.jobfuncs import Gate
from tests.services import (
    REPO,
    TEST_API_KEY,
    TEST_AUTHORITY,
    TEST_SECRET,
    Worker,
    install_test_authority,
    keyed_engine,
    picloud_env,
    redis_server,
    register_key,
)
from tests.webserver import WebServer
from workers.pools import POOLS

#: Test folders live here, not under /tmp: a job's sandbox has a /tmp of its own, and jobs
#: write into tests' folders (gates, records of their runs).
SHARED_TEMP = REPO / ".pytest-tmp"
SHARED_TEMP.mkdir(exist_ok=True)
os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(SHARED_TEMP))

#: Engines every conformance test runs on: the simulator, the fleet through its broker, and
#: the fleet through the web UI's HTTP API (a client with no broker URL and no fleet.json).
ENGINE_NAMES = ["local", "cluster", "http"]
#: Worker processes per engine: small, so the tests can keep every worker busy.
NUM_PROCS = 2


@pytest.fixture(scope="session", autouse=True)
def picloud_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Keep every test away from ~/.picloud; keep the module-level clouds small."""
    home = str(tmp_path_factory.mktemp("picloud-home"))
    install_test_authority(home)
    _traversable(tmp_path_factory.getbasetemp())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PICLOUD_HOME", home)
        patch.setenv("PICLOUD_FLEET_PUBLIC_KEY", TEST_AUTHORITY.public_key)
        patch.setenv("PICLOUD_NUM_PROCS", str(NUM_PROCS))
        picloud.config.reload()
        try:
            yield home
        finally:
            picloud.api.close()
            picloud.mp.close()
    picloud.config.reload()


def _traversable(folder: Path) -> None:
    """Let jobs (other uids) pass through ``folder`` and its parents up to SHARED_TEMP."""
    folder = folder.resolve()
    while folder != SHARED_TEMP.resolve() and SHARED_TEMP.resolve() in folder.parents:
        folder.chmod(folder.stat().st_mode | 0o111)
        folder = folder.parent


@pytest.fixture(autouse=True)
def _jobs_may_use_tmp_path(request: pytest.FixtureRequest) -> None:
    """A test's tmp_path is open to its jobs, which run as uids of their own."""
    if "tmp_path" in request.fixturenames:
        path = request.getfixturevalue("tmp_path")
        path.chmod(0o777)
        _traversable(path.parent)


@dataclass
class Cluster:
    """The session's Redis and one Celery worker per pool."""

    url: str
    workers: dict[str, Worker]


#: ``_env`` queues the tests submit to, served by their pool's worker.
ENV_QUEUES = {"c1": ["c1.myenv"], "c2": ["c2.base"]}


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A real redis-server (password-protected) and real Celery workers for c1 (NUM_PROCS
    processes), c2, m1 and s1 (one process each), started once for the session."""
    logs = tmp_path_factory.mktemp("worker-logs")
    with redis_server(password=secrets.token_hex(16)) as url:
        workers = {
            queue: Worker(
                url,
                ",".join([queue, *ENV_QUEUES.get(queue, [])]),
                NUM_PROCS if queue == "c1" else 1,
                logs,
            )
            for queue in POOLS
        }
        try:
            for worker in workers.values():
                worker.wait_ready()
            yield Cluster(url, workers)
        finally:
            for worker in workers.values():
                worker.stop()


@pytest.fixture(scope="session")
def web(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """The web UI as a real server (gunicorn) on the session's fleet, with the tests' key."""
    client = redis.Redis.from_url(cluster.url)
    register_key(client)
    client.close()
    server = WebServer(cluster.url, tmp_path_factory.mktemp("web"), (TEST_API_KEY, TEST_SECRET))
    yield server
    server.stop()


@pytest.fixture
def fleet(cluster: Cluster) -> Iterator[redis.Redis]:
    """The session's fleet, with picloud (the web UI's side too) pointed at its broker."""
    client = redis.Redis.from_url(cluster.url)
    with picloud_env(broker_url=cluster.url):
        yield client
    client.close()


#: What ``connection_info()['connection_type']`` says for each engine.
CONNECTION_TYPES = {"local": "simulation", "cluster": "cluster", "http": "cluster"}


@pytest.fixture(params=ENGINE_NAMES)
def engine(request: pytest.FixtureRequest) -> str:
    """The name of the engine the test runs on."""
    return request.param


@pytest.fixture
def engine_factory(engine: str, request: pytest.FixtureRequest) -> Callable[[], Engine]:
    """What ``Cloud`` needs to open an engine of the test's kind."""
    return factory_of(engine, request)


def factory_of(engine: str, request: pytest.FixtureRequest) -> Callable[[], Engine]:
    """What ``Cloud`` needs to open an engine named ``engine`` (one of ENGINE_NAMES)."""
    if engine == "local":
        return lambda: LocalEngine(num_procs=NUM_PROCS, connection_type="simulation")
    if engine == "http":
        url = request.getfixturevalue("web").url
        return lambda: HttpEngine(url, TEST_API_KEY, TEST_SECRET)
    return keyed_engine(request.getfixturevalue("cluster").url)


@pytest.fixture
def make_cloud(engine: str, engine_factory: Callable[[], Engine]) -> Iterator[Callable[[], Cloud]]:
    """Build more clouds (clients) on the test's engine; all are closed at teardown."""
    clouds: list[Cloud] = []

    def make() -> Cloud:
        client = Cloud(engine_factory, lambda: CONNECTION_TYPES[engine])
        clouds.append(client)
        return client

    yield make
    for client in clouds:
        client.close()


@pytest.fixture
def cloud(make_cloud: Callable[[], Cloud]) -> Cloud:
    """A fresh client on the test's engine (function scope: kills and timeouts leave state)."""
    return make_cloud()


@pytest.fixture
def gates(tmp_path: os.PathLike, make_cloud: Callable[[], Cloud]) -> Iterator[Callable[[], Gate]]:
    """``gates('name')``: a Gate whose file lives in the test's tmp dir. Every gate is opened at
    teardown, before the clouds close, so no job is left blocked on one."""
    made: list[Gate] = []

    def make(name: str) -> Gate:
        gate = Gate(os.path.join(os.fspath(tmp_path), name))
        made.append(gate)
        return gate

    yield make
    for gate in made:
        if not os.path.exists(gate.path):
            gate.open()


@pytest.fixture
def sock() -> Iterator[socket.socket]:
    """An open socket: the classic object that cannot be pickled."""
    s = socket.socket()
    yield s
    s.close()
