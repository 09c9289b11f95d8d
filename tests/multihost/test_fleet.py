"""The fleet across machines: hosts of our own (network namespaces, each with its own address,
hostname, HOME and temp dir; nothing shared but the code).

Host A runs Redis (with a password), an S3 server (moto), the web UI, the recorder and beat;
hosts B and C each run a c1 worker with the documented command and nothing but the broker URL,
the fleet's public key and the S3 settings; host D runs a PiCloud program that knows only the
server's URL and its api key. The test itself is a client with the broker URL. Across them: a
map, a file written in a job and read by the client, a cron firing, a REST call, a module of
the client's own, a job that fans out jobs, a kill, and kill -9 of host B's worker while a map
runs (its jobs finish on C). Where ``ip netns`` is missing or refused the test fails saying so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from picloud.client import Cloud
from picloud.engines.cluster import ClusterEngine
from picloud.exceptions import CloudTimeoutError
from tests import jobfuncs as jf
from tests.multihost.hosts import Host, Network, NoNamespaces
from tests.services import (
    REDIS_SERVER,
    REPO,
    TEST_API_KEY,
    TEST_AUTHORITY,
    TEST_SECRET,
    install_test_authority,
    register_key,
    wait_until,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: network namespaces"),
]

PASSWORD = "multihost-broker-pw"
CLIENT_MODULE = '''"""The client's own module: no worker host has it."""


def cube(x):
    return x * x * x
'''


class Fleet:
    """The started hosts and where their services answer."""

    def __init__(self, network: Network) -> None:
        self.a, self.b, self.c, self.d = (
            network.host(n) for n in ("hosta", "hostb", "hostc", "hostd")
        )
        self.broker = f"redis://:{PASSWORD}@{self.a.address}:6379/0"
        self.s3 = f"http://{self.a.address}:9000"
        self.web = f"http://{self.a.address}:8000"
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def fleet_env(self, host: Host, **extra: str) -> dict[str, str]:
        """What a fleet process is given: broker, fleet key, S3 (the documented worker.env)."""
        return host.environment(
            PICLOUD_BROKER_URL=self.broker,
            PICLOUD_FLEET_PUBLIC_KEY=TEST_AUTHORITY.public_key,
            PICLOUD_S3_ENDPOINT=self.s3,
            PICLOUD_S3_ACCESS_KEY="testing",
            PICLOUD_S3_SECRET_KEY="testing",
            PICLOUD_S3_BUCKET="picloud-multihost",
            PICLOUD_LEASE_SECONDS="3",
            **extra,
        )

    def start(self) -> None:
        a = self.a
        conf = a.home / "redis.conf"
        conf.write_text(f"requirepass {PASSWORD}\n")
        conf.chmod(0o600)
        redis_command = [str(REDIS_SERVER), str(conf), "--bind", a.address, "--port", "6379"]
        a.start([*redis_command, "--save", "", "--dir", str(a.temp)], a.environment(), "redis.log")
        a.start(
            a.python("-m", "moto.server", "-H", a.address, "-p", "9000"), a.environment(), "s3.log"
        )
        self._wait(lambda: _pings(self.broker), "Redis on host A")
        self._wait(lambda: _answers(self.s3), "S3 on host A")
        with redis.Redis.from_url(self.broker) as client:
            register_key(client)
        install_test_authority(str(a.home / ".picloud"))
        web_env = self.fleet_env(a, DATABASE_URL=f"sqlite:///{a.home / 'web.sqlite3'}")
        web_env["DJANGO_SETTINGS_MODULE"] = "webui.settings"
        web_env["DJANGO_ALLOWED_HOSTS"] = a.address
        manage = a.python(str(REPO / "manage.py"))
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=web_env, check=True)
        issue = (
            "import django, sys; django.setup();"
            "from webui.apikeys.issuing import issue_key;"
            "issue_key(secret=sys.argv[2], key=sys.argv[1], description='multihost')"
        )
        subprocess.run(a.python("-c", issue, TEST_API_KEY, TEST_SECRET), env=web_env, check=True)
        gunicorn = a.python("-m", "gunicorn", "webui.wsgi", "--bind", f"{a.address}:8000")
        a.start(
            [*gunicorn, "--worker-class", "gthread", "--threads", "16"], web_env, "web.log", REPO
        )
        a.start([*manage, "record"], web_env, "recorder.log", REPO)
        beat = ["-m", "celery", "-A", "workers", "beat", "-l", "INFO", "-s", str(a.temp / "beat")]
        beat += ["-S", "django_celery_beat.schedulers:DatabaseScheduler"]
        a.start(a.python(*beat), web_env, "beat.log", REPO)
        for host in (self.b, self.c):  # the documented command, from a folder of its own
            self.workers[host.name] = host.start(
                host.python("-m", "workers", "c1", "--concurrency", "2"),
                self.fleet_env(host),
                "worker.log",
            )
        self._wait(lambda: _answers(f"{self.web}/servers/list/"), "the web UI on host A")
        self._wait(self._both_serve, "workers on hosts B and C")

    def _both_serve(self) -> bool:
        with redis.Redis.from_url(self.broker) as client:
            fields = client.hkeys("pc:workers")
        names = b" ".join(fields).decode()
        return "hostb" in names and "hostc" in names

    def _wait(self, ready: object, what: str) -> None:
        try:
            wait_until(ready, 60, what)  # type: ignore[arg-type]
        except TimeoutError:
            logs = {h.name: {n: h.log(n)[-1500:] for n in ("web.log", "worker.log")} for h in
                    (self.a, self.b, self.c)}  # fmt: skip
            raise AssertionError(f"{what} never came up: {logs}") from None


def _pings(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code < 500
    except requests.RequestException:
        return False


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    tmp_path.chmod(0o755)
    try:
        network = Network(tmp_path)
    except NoNamespaces as exc:
        pytest.fail(f"this machine cannot make test hosts (ip netns): {exc}")
    try:
        made = Fleet(network)
        made.start()
        yield made
    finally:
        network.close()


def test_a_fleet_of_four_hosts(fleet: Fleet, tmp_path: Path) -> None:
    d = fleet.d
    project = d.temp / "project"
    (project / "clientlib").mkdir(parents=True)
    (project / "clientlib" / "__init__.py").write_text("")
    (project / "clientlib" / "mathx.py").write_text(CLIENT_MODULE)
    script = project / "off_cluster_client.py"
    script.write_text((Path(__file__).parent / "off_cluster_client.py").read_text())
    client_env = d.environment(
        PICLOUD_SERVER_URL=fleet.web,
        PICLOUD_API_KEY=TEST_API_KEY,
        PICLOUD_API_SECRETKEY=TEST_SECRET,
        PYTHONPATH=os.pathsep.join([str(project), str(REPO)]),
    )
    program = d.start(d.python(str(script), TEST_SECRET), client_env, "client.log", project)

    broker_client = Cloud(
        lambda: ClusterEngine(fleet.broker, TEST_API_KEY, TEST_SECRET), lambda: "cluster"
    )
    try:
        jids = broker_client.map(jf.sleep_then_return, [0.5] * 40, range(40))
        wait_until(lambda: _running_on(broker_client, jids, "hostb"), 60, "a job running on B")
        os.killpg(fleet.workers["hostb"].pid, signal.SIGKILL)
        try:
            broker_client.join(jids, timeout=120)
        except CloudTimeoutError:
            raise AssertionError((_stuck(broker_client, jids), fleet.c.log("worker.log")[-4000:]))
        assert broker_client.result(jids) == list(range(40))
        hosts = {_host_of(w) for w in _workers(broker_client, jids)}
        assert "hostc" in hosts, hosts

        program.wait(timeout=240)
        output = d.log("client.log")
        lines = [line for line in output.splitlines() if line.startswith("{")]
        assert program.returncode == 0 and lines, output[-3000:]
        seen = json.loads(lines[-1])
    finally:
        broker_client.close()
        if program.poll() is None:
            os.killpg(program.pid, signal.SIGKILL)
    assert seen.get("cron"), ("the cron never fired", seen, fleet.a.log("beat.log")[-3000:])
    assert seen == {
        "transport": "http",
        "map": [x * x for x in range(50)],
        "file": "written on a worker host",
        "own_module": 27,
        "fan_out": [0, 1, 4, 9, 16],
        "kill": "killed",
        "rest": 49,
        "cron": True,
    }


def _stuck(cloud: Cloud, jids: range) -> dict[int, dict]:
    """The unfinished jobs' status, worker and attempts (for a failure's message)."""
    left = [j for j, s in zip(jids, cloud.status(list(jids))) if s not in ("done", "error")]
    return cloud.info(left, ["status", "worker", "attempts"]) if left else {}


def _workers(cloud: Cloud, jids: range) -> list[str]:
    found = cloud.info(list(jids), "worker")
    return [str(found[j]["worker"]) for j in jids]


def _host_of(worker: str) -> str:
    """The host of ``c1-…@hostb/123``."""
    return worker.rpartition("@")[2].partition("/")[0]


def _running_on(cloud: Cloud, jids: range, host: str) -> bool:
    statuses = cloud.status(list(jids))
    running = [j for j, s in zip(jids, statuses) if s == "processing"]
    return any(_host_of(w) == host for w in _workers(cloud, running)) if running else False
