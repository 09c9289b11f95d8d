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
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

import picloud.config
from picloud.exceptions import CloudException
from picloud.fleet import redis_server
from picloud.fleet.__main__ import web_port
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


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command's name (state, parent, ...); [] if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie waiting to be reaped)."""
    return _stat(pid)[:1] not in ([], ["Z"], ["X"])


def _main_workers(home: Path) -> dict[str, int]:
    """queue -> pid of each Celery worker's main process (its pool's children are not)."""
    workers = {
        pid: found.group(1)
        for pid, cmd in _marked(home).items()
        if (found := re.search(r" worker -Q (\S+) ", cmd))
    }
    return {queue: pid for pid, queue in workers.items() if _parent(pid) not in workers}


def _parent(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[1]) if fields else 0


def _fetch_until_closed(port: int) -> bytes:
    """GET /admin/login/ from 127.0.0.1:``port``, reading until the server closes the
    connection: it closes first, so its side stays in TIME_WAIT."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(b"GET /admin/login/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        return b"".join(iter(lambda: connection.recv(65536), b""))


def _time_waits(port: int) -> int:
    """How many TCP connections of local port ``port`` are in TIME_WAIT."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(row.split()[1].endswith(f":{port:04X}") and row.split()[3] == "06" for row in rows)


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


@contextmanager
def _fleet(
    home: Path, broker_url: str, port: int, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m picloud.fleet`` running (fleet.json written), its output in ``log_path``;
    killed with all it started at the end."""
    with open(log_path, "ab") as log:
        fleet = subprocess.Popen(
            [sys.executable, "-m", "picloud.fleet"],
            cwd=REPO,
            env=_environment(home, broker_url, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def started() -> bool:
            if fleet.poll() is not None:
                raise AssertionError(f"the fleet exited early:\n{log_path.read_text()}")
            return (home / "fleet.json").exists()

        wait_until(started, 60, "fleet.json")
        yield fleet
    finally:
        if fleet.poll() is None:
            fleet.kill()
            fleet.wait(timeout=10)
        _kill_all(home)


def _call(home: Path) -> list[str]:
    """Run CLIENT (a cloud.call job through fleet.json): its output's words."""
    client = subprocess.run(
        [sys.executable, "-c", CLIENT],
        cwd=REPO,
        env=_environment(home, None),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [*client.stdout.split(), client.stderr]


@pytest.mark.slow
def test_make_run_starts_serves_and_stops(tmp_path: Path, own_redis: str) -> None:
    home = tmp_path / "home"
    log_path = tmp_path / "fleet.log"
    fleet_file = home / "fleet.json"
    port = free_port()
    with _fleet(home, own_redis, port, log_path) as fleet:
        client = _call(home)
        assert client[:2] == ["9", "cluster"], client + [log_path.read_text()]
        jid = client[2]
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


@pytest.mark.slow
def test_make_run_restarts_a_killed_worker_and_nothing_else(tmp_path: Path, own_redis: str) -> None:
    home = tmp_path / "home"
    log_path = tmp_path / "fleet.log"
    web = f"http://127.0.0.1:{(port := free_port())}/admin/login/"
    with _fleet(home, own_redis, port, log_path) as fleet:
        wait_until(lambda: _answers(web), 30, "the web UI")
        wait_until(lambda: len(_main_workers(home)) == 4, 30, "the four workers")
        before = _main_workers(home)
        gunicorns = {pid for pid, cmd in _marked(home).items() if "gunicorn" in cmd}

        os.kill(before["c1"], signal.SIGKILL)
        wait_until(lambda: "c1 restarted" in log_path.read_text(), 15, "c1 to be restarted")
        assert re.search(
            r"system\s+\| c1 exited \((rc 137 = 128 \+ |killed by )SIGKILL\) after \S+ s; "
            r"restarting it in 1 s",
            log_path.read_text(),
        ), log_path.read_text()
        client = _call(home)  # a c1 job: the new c1 worker serves it
        assert client[:2] == ["9", "cluster"], client + [log_path.read_text()]

        after = _main_workers(home)
        assert after.pop("c1") != before.pop("c1") and after == before, (before, after)
        assert _answers(web)
        assert gunicorns == {pid for pid, cmd in _marked(home).items() if "gunicorn" in cmd}
        assert "web exited" not in log_path.read_text()
        fleet.send_signal(signal.SIGINT)
        assert fleet.wait(timeout=30) == 0, log_path.read_text()
        assert not _marked(home)


@pytest.mark.slow
def test_make_run_starts_again_at_once_after_ctrl_c(tmp_path: Path, own_redis: str) -> None:
    home = tmp_path / "home"
    web = f"http://127.0.0.1:{(port := free_port())}/admin/login/"
    for run in ("first", "second"):
        log_path = tmp_path / f"{run}.log"
        with _fleet(home, own_redis, port, log_path) as fleet:
            wait_until(lambda: _answers(web), 30, "the web UI")
            for _ in range(3):
                assert _fetch_until_closed(port).startswith(b"HTTP/1.0 200 ")
            fleet.send_signal(signal.SIGINT)
            assert fleet.wait(timeout=30) == 0, log_path.read_text()
        assert "picloud local fleet stopped" in log_path.read_text(), log_path.read_text()
        assert _time_waits(port), f"no connection of port {port} in TIME_WAIT"


def test_web_port_refuses_a_listener_not_time_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        monkeypatch.setenv("PICLOUD_WEB_PORT", str(port))
        with pytest.raises(CloudException, match=f"port {port} for the web UI is in use"):
            web_port()
        client = socket.create_connection(("127.0.0.1", port))
        with client, server.accept()[0]:
            pass  # the server's side closes first: it stays in TIME_WAIT
    assert _time_waits(port)
    assert web_port() == port


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
