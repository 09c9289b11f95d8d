"""The installed ``picloud`` script as a real process, against the session's cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from picloud import keyring
from tests.services import REPO, TEST_API_KEY, TEST_SECRET

PICLOUD = Path(sys.executable).parent / "picloud"


@pytest.fixture
def run_picloud(cluster, tmp_path):
    """``run_picloud('status', '5')``: the script in a process of its own, on the cluster, with
    the tests' API key (registered there)."""
    client = redis.Redis.from_url(cluster.url)
    keyring.publish_secret(client, TEST_API_KEY, TEST_SECRET)
    client.close()
    env = {k: v for k, v in os.environ.items() if k != "PICLOUD_USE_SIMULATOR"}
    env.update(PICLOUD_BROKER_URL=cluster.url, PICLOUD_HOME=str(tmp_path))
    env.update(PICLOUD_API_KEY=TEST_API_KEY, PICLOUD_API_SECRETKEY=TEST_SECRET)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PICLOUD), *args], env=env, capture_output=True, text=True, timeout=60
        )

    return run


@pytest.mark.slow
def test_the_script_on_the_cluster(run_picloud):
    echoed = run_picloud("exec", "--", "echo", "from", "a", "worker")
    assert (echoed.returncode, echoed.stdout, echoed.stderr) == (0, "from a worker\n", "")
    jid = int(run_picloud("call", "tests.jobfuncs:add", "40", "b=2").stdout)
    assert run_picloud("result", str(jid)).stdout == "42\n"
    assert run_picloud("status", str(jid)).stdout == f"{jid} done\n"
    info = json.loads(run_picloud("info", "--json", "-f", "status", str(jid)).stdout)
    assert info == {str(jid): {"status": "done"}}
    failed = run_picloud("call", "--wait", "operator:truediv", "1", "0")
    assert failed.returncode == 1
    assert failed.stderr.startswith("Error: Job ") and failed.stderr.endswith(
        ": ZeroDivisionError: division by zero\n"
    )
    assert run_picloud("delete", str(jid)).returncode == 0
    gone = run_picloud("status", str(jid))
    assert gone.returncode == 1 and "Traceback" not in gone.stderr
