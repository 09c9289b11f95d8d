"""``make run`` for real: the fleet starts, runs a job found through fleet.json, and stops clean;
and the embedded Redis it falls back to."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import picloud.config
from picloud.exceptions import CloudException
from picloud.fleet import redis_server
from tests.services import free_port, wait_until
from tests.services import redis_server as own_redis_server

REPO = Path(__file__).resolve().parents[2]
CLIENT = (
    "import cloud; jid = cloud.call(lambda: 3*3); print(cloud.result(jid, timeout=50)); "
    "print(cloud.connection_info()['connection_type']); print(jid)"
)


def _environment(home: Path, broker_url: str | None, web_port: int = 0) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PICLOUD_", "DJANGO_"))}
    env["PICLOUD_HOME"] = str(home)
    if web_port:
        env["PICLOUD_WEB_PORT"] = str(web_port)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if broker_url:
        env["PICLOUD_BROKER_URL"] = broker_url
    return env


def _marked(home: Path) -> dict[int, str]:
    """pid -> command line of every process whose environment has PICLOUD_HOME=<home>."""
    marker = f"PICLOUD_HOME={home}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
    return {pid: cmd.decode(errors="replace") for pid, cmd in found.items()}


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _recorded(home: Path, jid: int) -> bool:
    """Whether the ledger (the fleet's SQLite database) has job ``jid`` as done."""
    with sqlite3.connect(home / "webui.sqlite3") as db:
        row = db.execute("SELECT status FROM ledger_job WHERE jid = ?", (jid,)).fetchone()
    return row == ("done",)


def _kill_all(home: Path) -> None:
    for pid in _marked(home):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture
def own_redis() -> Iterator[str]:
    """A redis-server of the test's own (never the machine's 6379)."""
    with own_redis_server() as url:
        yield url


@pytest.mark.slow
def test_make_run_starts_serves_and_stops(tmp_path: Path, own_redis: str) -> None:
    home = tmp_path / "home"
    log_path = tmp_path / "fleet.log"
    fleet_file = home / "fleet.json"
    port = free_port()
    with open(log_path, "wb") as log:
        fleet = subprocess.Popen(
            [sys.executable, "-m", "picloud.fleet"],
            cwd=REPO,
            env=_environment(home, own_redis, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def started() -> bool:
            if fleet.poll() is not None:
                raise AssertionError(f"the fleet exited early:\n{log_path.read_text()}")
            return fleet_file.exists()

        wait_until(started, 60, "fleet.json")
        client = subprocess.run(
            [sys.executable, "-c", CLIENT],
            cwd=REPO,
            env=_environment(home, None),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert client.stdout.split()[:2] == ["9", "cluster"], client.stderr + log_path.read_text()
        jid = client.stdout.split()[2]
        assert oct(fleet_file.stat().st_mode & 0o777) == "0o600"
        assert json.loads(fleet_file.read_text())["api_key"] in log_path.read_text()

        # the web UI answers, and the recorder put the job in its database
        login = re.search(r"login\s+(\S+) / (\S+)", log_path.read_text())
        assert login, log_path.read_text()
        web = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{web}/admin/login/"), 30, "the web UI")
        wait_until(lambda: _recorded(home, int(jid)), 30, f"job {jid} in the ledger")

        ping = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "workers", "inspect", "ping",
             "-d", f"c1@{socket.gethostname()}", "--timeout", "10"],
            cwd=REPO,
            env=_environment(home, own_redis),
            capture_output=True,
            text=True,
            timeout=30,
        )  # fmt: skip
        assert f"c1@{socket.gethostname()}: OK" in ping.stdout, ping.stdout + ping.stderr

        workers = {pid for pid, cmd in _marked(home).items() if " worker -Q " in cmd}
        assert len(workers) >= 4, _marked(home)
        commands = " | ".join(_marked(home).values())
        assert "gunicorn" in commands and "manage.py record" in commands, commands
        banner = log_path.read_text()
        assert own_redis in banner and "c1" in banner and "s1" in banner

        fleet.send_signal(signal.SIGTERM)
        assert fleet.wait(timeout=30) == 0, log_path.read_text()
        assert not fleet_file.exists()
        wait_until(lambda: not any(map(_running, workers)), 10, "the workers to exit")
        assert not _marked(home)
    finally:
        if fleet.poll() is None:
            fleet.kill()
            fleet.wait(timeout=10)
        _kill_all(home)


def test_embedded_redis_starts_answers_and_stops(tmp_path: Path) -> None:
    data = tmp_path / "redis"
    server = redis_server.start_embedded(str(data), port=free_port())
    try:
        client = redis.Redis.from_url(server.url)
        try:
            assert client.ping()
            assert client.config_get("appendonly") == {"appendonly": "yes"}
        finally:
            client.close()
    finally:
        server.stop()
    assert server.process is not None and server.process.returncode is not None
    assert not redis_server.answers(server.url, 0.5)
    assert (data / "redis.log").exists()


def test_unreachable_configured_broker_is_named_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICLOUD_BROKER_URL", f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    picloud.config.reload()
    try:
        with pytest.raises(CloudException, match=r"redis://:\*\*\*@127\.0\.0\.1") as raised:
            redis_server.find_or_start()
        assert "hunter2" not in str(raised.value)
    finally:
        monkeypatch.undo()
        picloud.config.reload()
