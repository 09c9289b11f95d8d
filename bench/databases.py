"""Running a bench script's measurement again in a fresh process on a fresh database (SQLite in
a new PICLOUD_HOME, or a new PostgreSQL database dropped afterwards), for the scripts that
compare the two (recorder_lag.py, metrics_scrape.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_SERVER = "postgres://postgres@127.0.0.1:5432"


def in_fresh_database(script: str, db: str) -> dict:
    """Run ``script --child`` (with this process's arguments) on a fresh ``db`` ('sqlite' or
    'postgres'); return the JSON it prints last."""
    path = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    env = dict(
        os.environ, DJANGO_SETTINGS_MODULE="webui.settings", DJANGO_DEBUG="0", PYTHONPATH=path
    )
    env["PICLOUD_HOME"] = tempfile.mkdtemp(prefix="picloud-bench-")
    name = None
    if db == "postgres":
        import psycopg

        name = f"picloud_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        env["DATABASE_URL"] = f"{PG_SERVER}/{name}"
    else:
        env.pop("DATABASE_URL", None)
    try:
        command = [sys.executable, script, "--child", *sys.argv[1:]]
        found = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
        if found.returncode:
            raise SystemExit(f"{db} run failed:\n{found.stderr}")
        return json.loads(found.stdout.strip().splitlines()[-1])
    finally:
        if name:
            with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
