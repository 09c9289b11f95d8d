"""``python -m workers``: the Celery command line it makes (``--print``), its checks, and a real
worker started with ``--autoscale``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.services import REPO, Worker, redis_server, wait_until
from workers.__main__ import main
from workers.celery_app import POLLING_INTERVAL

BASE = "--max-memory-per-child 819200 --without-gossip --without-mingle -l INFO"


def _printed(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main([*argv, "--print"])
    return capsys.readouterr().out.strip()


@pytest.mark.parametrize(
    ("argv", "tail"),
    [
        (["c2"], ""),
        (["c2", "--concurrency", "4"], " -c 4"),
        (["c2", "--autoscale", "2,8"], " --autoscale=8,2"),  # Celery's order is MAX,MIN
        (["c2", "--autoscale", "3,3"], " --autoscale=3,3"),
    ],
)
def test_printed_command(capsys, argv, tail):
    assert _printed(capsys, *argv) == f"celery -A workers worker -Q c2 -n c2@%h {BASE}{tail}"


def test_an_env_queue_keeps_its_pool_limits(capsys):
    assert _printed(capsys, "c2.myenv", "--autoscale", "1,2").startswith(
        "celery -A workers worker -Q c2.myenv -n c2.myenv@%h --max-memory-per-child 819200 "
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["c2", "--autoscale", "8,2"], "is not MIN,MAX with 1 <= MIN <= MAX"),
        (["c2", "--autoscale", "0,4"], "is not MIN,MAX with 1 <= MIN <= MAX"),
        (["c2", "--autoscale", "4"], "is not MIN,MAX with 1 <= MIN <= MAX"),
        (["c2", "--autoscale", "a,b"], "is not MIN,MAX with 1 <= MIN <= MAX"),
        (["c2", "--autoscale", "1,2,3"], "is not MIN,MAX with 1 <= MIN <= MAX"),
        (["c2", "--autoscale", "1,2", "--concurrency", "2"], "not both"),
        (["c2", "--concurrency", "-1"], "--concurrency must be 0"),
        (["x9"], "unknown pool in 'x9'"),
    ],
)
def test_refused_arguments(capsys, argv, says):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--print"])
    assert exit_.value.code == 2
    assert says in capsys.readouterr().err


@pytest.mark.slow
def test_a_worker_started_with_autoscale_scales_between_min_and_max(tmp_path: Path):
    """Celery itself reads the translated flag: its autoscaler reports min 1 and max 3."""
    with redis_server() as url:
        env = dict(os.environ, PICLOUD_BROKER_URL=url, PICLOUD_HOME=str(tmp_path))
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *sys.path])
        command = [sys.executable, "-m", "workers", "s1", "--autoscale", "1,3"]
        with open(tmp_path / "worker.log", "wb") as log:
            worker = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        client = redis.Redis.from_url(url)
        try:
            wait_until(lambda: client.hget("pc:pools", "s1"), 30, "the s1 worker's heartbeat")
            stats = subprocess.run(
                [sys.executable, "-m", "celery", "-A", "workers", "inspect", "stats", "--json",
                 "-d", f"s1@{socket.gethostname()}", "--timeout", "10"],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=30, check=True,
            )  # fmt: skip
            (node,) = json.loads(stats.stdout).values()
            assert (node["autoscaler"]["min"], node["autoscaler"]["max"]) == (1, 3)
        finally:
            client.close()
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=20)


def test_an_idle_worker_stops_at_once_on_sigterm(tmp_path: Path):
    """A warm shutdown of an idle worker does not wait out kombu's idle wait for a Celery
    message (POLLING_INTERVAL): closing its channel reads that wait's reply, bounded by the
    transport's socket_timeout."""
    with redis_server() as url:
        worker = Worker(url, "c1", 1, tmp_path)
        worker.wait_ready()
        time.sleep(1)  # the consumer is in its wait
        began = time.monotonic()
        worker.stop()
        took = time.monotonic() - began
    assert took < POLLING_INTERVAL / 2, f"an idle worker took {took:.1f} s to stop"
