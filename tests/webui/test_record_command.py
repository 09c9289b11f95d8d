"""``manage.py record`` as ops run it: a process that records until SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

from tests.jobfuncs import wait_for
from tests.services import REPO


def test_manage_py_record_runs_until_sigterm(tmp_path, redis_url, fake):
    database = tmp_path / "ledger.sqlite3"
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{database}",
        PICLOUD_BROKER_URL=redis_url,
        PYTHONPATH=str(REPO),
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
    process = subprocess.Popen(
        [*manage, "record", "--consumer", "ops"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def done_rows() -> int:
        with sqlite3.connect(database, timeout=10) as db:
            return db.execute("SELECT COUNT(*) FROM ledger_job WHERE status = 'done'").fetchone()[0]

    try:
        fake.run(5, label="ops")
        wait_for(lambda: done_rows() == 5, 30, "5 recorded jobs")
        process.send_signal(signal.SIGTERM)
        out = process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, out
    assert "consumer 'ops' of group 'recorder'" in out
    assert "events -> " in out and "rows written" in out
