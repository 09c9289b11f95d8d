"""Real ``celery beat`` processes with django-celery-beat's DatabaseScheduler fire a registered
``* * * * *`` cron at the next minute; two beats started by mistake make one job."""

from __future__ import annotations

import functools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

from picloud import cron, keys
from tests import jobfuncs as jf
from tests.services import REPO, spawn, wait_until
from webui.crons.models import Cron

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


def _database_url(folder: Path) -> str:
    """A URL another process can open the test database by. pytest-django's SQLite test
    database lives in memory, so beat gets a copy of it in a file (taken after the cron was
    registered); a PostgreSQL test database is opened as it is."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        user = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
        return f"postgres://{user}@{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"
    assert connection.vendor == "sqlite"
    if not connection.is_in_memory_db():
        return f"sqlite:///{settings['NAME']}"
    path = folder / "beat.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(path) as copy:
        connection.connection.backup(copy)
    copy.close()
    return f"sqlite:///{path}"


@contextmanager
def beats(count: int, broker_url: str, database_url: str, folder: Path) -> Iterator[list[Path]]:
    """``count`` beat processes (what the Procfile's ``beat`` line starts); yields their logs."""
    env = dict(
        os.environ,
        PICLOUD_BROKER_URL=broker_url,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="webui.settings",
        PYTHONPATH=os.pathsep.join([str(REPO), *sys.path]),
    )
    processes, logs = [], []
    try:
        for number in range(count):
            logs.append(folder / f"beat-{number}.log")
            command = [sys.executable, "-m", "celery", "-A", "workers", "beat", "-S", SCHEDULER,
                       "-l", "INFO", "-s", str(folder / f"schedule-{number}")]  # fmt: skip
            processes.append(spawn(command, logs[-1], env))
        yield logs
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _early_in_a_minute(latest: int = 40) -> None:
    """Sleep until the wall clock is at most ``latest`` s into a minute (and past its first).

    A beat that first reads the schedule after another beat sent the minute's firing reads the
    firing's ``last_run_at`` (django-celery-beat writes it at the first send), so it has nothing
    to send until the next minute. Registering the cron and starting both beats early in a
    minute gives both time to start before the boundary they are to fire at."""
    second = time.time() % 60
    if not 1 <= second <= latest:
        time.sleep((61 - second) % 60)


@pytest.mark.timeout(260)
def test_two_beats_fire_an_every_minute_cron_once(user, jobs, fleet, cluster, tmp_path):
    _early_in_a_minute()
    cron.register(functools.partial(jf.square, 8), "beat", "* * * * *")
    task = Cron.objects.get(label="beat").periodic_task
    hash_key = keys.cron(user.key, "beat")
    with beats(2, cluster.url, _database_url(tmp_path), tmp_path) as logs:

        def sent_by(log: Path) -> bool:
            return f"Sending due task {task.name}" in log.read_text(errors="replace")

        def fired() -> bool:
            for log in logs:
                assert "Traceback" not in log.read_text(errors="replace"), log.read_text()
            return fleet.hget(hash_key, "last_jid") is not None

        wait_until(fired, 75, "a beat to fire the cron")
        jid = int(fleet.hget(hash_key, "last_jid"))
        assert jobs.result(jid, timeout=30) == 64
        wait_until(lambda: all(map(sent_by, logs)), 30, "both beats to send the firing")
        wait_until(
            lambda: fleet.llen("c1") == 0 and fleet.hlen("unacked") == 0,
            30,
            "both firings to be handled",
        )
    assert int(fleet.hget(hash_key, "last_jid")) == jid  # the second firing made no job
    assert cron.info("beat")["last_jid"] == jid
