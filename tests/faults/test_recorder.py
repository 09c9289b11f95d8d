"""The recorder (``manage.py record``) SIGKILLed mid-stream and restarted (R10).

Its rows are checked against Redis once the jobs ended: one row per job, the same status. The
database is SQLite in a tmpfs: the PostgreSQL restart of reliability-notes R10 is left out, as
this machine's PostgreSQL is shared with other work."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import jobs
from tests.faults.harness import settle, wait_for
from tests.jobfuncs import square
from tests.services import REPO


@pytest.fixture
def database() -> Iterator[Path]:
    """A SQLite file for the ledger, in a tmpfs when the host has one (no fsync cost)."""
    where = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="picloud-ledger-", dir=where) as folder:
        yield Path(folder) / "ledger.sqlite3"


def _manage(database: Path, url: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{database}", PICLOUD_BROKER_URL=url)
    env["PYTHONPATH"] = str(REPO)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=REPO, env=env, stdout=out, stderr=out
        )


def _rows(database: Path, jids: range | None = None) -> dict[int, str]:
    """The recorded status of each job (of ``jids`` only, when given)."""
    try:
        with sqlite3.connect(database, timeout=10) as db:
            found = dict(db.execute("SELECT jid, status FROM ledger_job").fetchall())
    except sqlite3.OperationalError:  # no table yet
        return {}
    return found if jids is None else {j: s for j, s in found.items() if j in jids}


def _done_rows(database: Path) -> int:
    return sum(status == "done" for status in _rows(database).values())


def test_r10_recorder_killed_mid_stream_catches_up(make_cluster, figures, full, database):
    """SIGKILL of ``manage.py record`` while jobs change state, then a restart under the same
    consumer name: afterwards one row per job, every status as in Redis."""
    figures.scenario = "manage.py record SIGKILLed mid-stream"
    n, kills = (3000, 3) if full else (300, 1)
    cluster = make_cluster(2)
    log = cluster.directory / "record.log"
    migrate = _manage(database, cluster.server.url, log, "migrate", "-v", "0")
    assert migrate.wait(timeout=60) == 0, log.read_text()
    record = ("record", "--consumer", "faults")
    recorder = _manage(database, cluster.server.url, log, *record)
    cloud = cluster.cloud()
    try:
        # the recorder must be streaming before the map starts (a loaded host starts it slowly)
        warm_up = cloud.call(square, 2)
        wait_for(lambda: warm_up in _rows(database), 60)
        jids = cloud.map(jobs.work, [cluster.jobdir] * n, range(n), [0.02] * n)
        ended_at_kills: list[int] = []  # jobs ended when the recorder was killed
        for round_ in range(1, kills + 1):
            wait_for(lambda: _done_rows(database) >= n * round_ // (kills + 2), 30)
            recorder.send_signal(signal.SIGKILL)
            recorder.wait(timeout=10)
            ended_at_kills.append(len(cluster.ledger.ends()))
            recorder = _manage(database, cluster.server.url, log, *record)
        restarted = time.time()
        found = settle(cloud, jids, timeout=60 + n / 20)

        def caught_up() -> bool:
            rows = _rows(database, jids)
            return len(rows) == n and all(rows.get(jid) == found[jid] for jid in jids)

        wait_for(caught_up, 30)
        caught = time.time()
        rows = _rows(database, jids)
    finally:
        recorder.send_signal(signal.SIGTERM)
        try:
            recorder.wait(timeout=15)
        except subprocess.TimeoutExpired:
            recorder.kill()
    figures.count(cluster.ledger.executions(jids), found)
    mismatched = sum(rows.get(jid) != found[jid] for jid in jids)
    figures.recovery = caught - restarted
    figures.notes.update(ended_at_kills=ended_at_kills, rows=len(rows), mismatched=mismatched)
    assert ended_at_kills[0] < n, "harness: the jobs had all ended before the recorder was killed"
    assert figures.lost == 0 and figures.errors == 0
    assert len(rows) == n and mismatched == 0, log.read_text()[-3000:]
