"""The installed ``picloud`` script as a real process, against the session's cluster: every
command that needs no web UI (``test_subprocess_web.py`` has the ones that do)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from picloud import broker
from picloud.config import Settings
from tests import jobfuncs as jf
from tests.services import REPO, TEST_API_KEY, TEST_SECRET, register_key

PICLOUD = Path(sys.executable).parent / "picloud"

#: ``run_picloud(*args, env=..., cwd=...)``: the script run once, to its end.
RunPicloud = Callable[..., subprocess.CompletedProcess[str]]


def script_env(home: Path, **settings: str | None) -> dict[str, str]:
    """This process's environment for the script: no simulator, ``home`` as PICLOUD_HOME, the
    repository importable (for ``tests.jobfuncs``), and ``PICLOUD_<NAME>`` set for each of
    ``settings`` (removed where its value is None)."""
    env = {k: v for k, v in os.environ.items() if k != "PICLOUD_USE_SIMULATOR"}
    env.update(PICLOUD_HOME=str(home))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    for name, value in settings.items():
        env.pop(f"PICLOUD_{name.upper()}", None)
        if value is not None:
            env[f"PICLOUD_{name.upper()}"] = value
    return env


def run_script(args: tuple[str, ...], env: dict[str, str], cwd: Path | None = None):
    return subprocess.run(
        [str(PICLOUD), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def one_error_line(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """Assert the script failed with exit code 1 and one ``Error: ...`` line on stderr (no
    traceback, nothing on stdout) naming ``words``; that line."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == "" and done.stderr.startswith("Error: "), done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.endswith("\n"), done.stderr
    for word in words:
        assert word in done.stderr, (word, done.stderr)
    return done.stderr


@pytest.fixture
def run_picloud(cluster, tmp_path) -> RunPicloud:
    """``run_picloud('status', '5')``: the script in a process of its own, on the cluster, with
    the tests' API key (registered there); ``env={'broker_url': None}`` changes its settings."""
    client = redis.Redis.from_url(cluster.url)
    register_key(client)
    client.close()
    on_cluster = dict(broker_url=cluster.url, api_key=TEST_API_KEY, api_secretkey=TEST_SECRET)

    def run(*args: str, env: dict[str, str | None] | None = None, cwd: Path | None = None):
        return run_script(args, script_env(tmp_path, **{**on_cluster, **(env or {})}), cwd)

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


@pytest.mark.slow
def test_kill_a_running_job(run_picloud, tmp_path):
    pid_path, gate = tmp_path / "pid", jf.Gate(str(tmp_path / "gate"))
    try:
        started = run_picloud("call", "tests.jobfuncs:write_pid_and_wait", str(pid_path), gate.path)
        assert started.returncode == 0, started.stderr
        jid = int(started.stdout)
        pid = int(jf.read_when_written(str(pid_path), 30))  # the job runs in that process
        assert run_picloud("status", str(jid)).stdout == f"{jid} processing\n"

        killed = run_picloud("kill", str(jid))
        assert (killed.returncode, killed.stdout, killed.stderr) == (0, f"killed {jid}\n", "")
        jf.wait_for(lambda: jf.process_gone(pid), 10, f"worker process {pid} to exit")
        jf.wait_for(
            lambda: run_picloud("status", str(jid)).stdout == f"{jid} killed\n", 10, "killed"
        )
        lost = one_error_line(run_picloud("result", str(jid)))
        assert lost == f"Error: Job {jid}: Job terminated by user\n"
        again = run_picloud("kill", "--json", str(jid))  # a finished job: nothing to do
        assert (again.returncode, json.loads(again.stdout)) == (0, {"killed": [jid]})
    finally:
        gate.open()
    refused = run_picloud("kill", "x")
    assert refused.returncode == 2 and "'x' is not a jid" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.slow
def test_files_in_the_local_store(run_picloud, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_text("hello from a process\n")
    stored = run_picloud("files", "put", str(source))
    assert (stored.returncode, stored.stdout, stored.stderr) == (0, "stored notes.txt\n", "")
    renamed = run_picloud("files", "put", "--json", str(source), "sub/copy.txt")
    assert json.loads(renamed.stdout) == {"name": "sub/copy.txt"}
    store = tmp_path / "files" / TEST_API_KEY  # the folder store under the script's home
    assert (store / "sub" / "copy.txt").read_text() == "hello from a process\n"
    assert run_picloud("files", "list").stdout == "notes.txt\nsub/copy.txt\n"
    assert json.loads(run_picloud("files", "list", "--json").stdout) == [
        "notes.txt",
        "sub/copy.txt",
    ]

    here = tmp_path / "cwd"
    here.mkdir()
    fetched = run_picloud("files", "get", "notes.txt", cwd=here)  # saved as NAME, in the cwd
    assert (fetched.returncode, fetched.stdout) == (0, "saved notes.txt\n")
    assert (here / "notes.txt").read_text() == "hello from a process\n"
    target = tmp_path / "back.txt"
    fetched = run_picloud("files", "get", "--json", "sub/copy.txt", str(target))
    assert json.loads(fetched.stdout) == {"name": "sub/copy.txt", "path": str(target)}
    assert target.read_text() == "hello from a process\n"

    deleted = run_picloud("files", "delete", "notes.txt", "sub/copy.txt")
    assert deleted.stdout == "deleted notes.txt\ndeleted sub/copy.txt\n"
    assert run_picloud("files", "list").stdout == "" and not (store / "notes.txt").exists()
    missing = run_picloud("files", "get", "notes.txt", str(target))
    assert one_error_line(missing) == "Error: file 'notes.txt' does not exist\n"
    assert target.read_text() == "hello from a process\n"  # left as it was
    assert one_error_line(run_picloud("files", "delete", "notes.txt"), "no such file: notes.txt")
    one_error_line(run_picloud("files", "put", str(source), "../escape"), "invalid file name")


@pytest.mark.slow
def test_setup_writes_cloudconf_that_the_next_command_uses(cluster, run_picloud, tmp_path):
    # Only cloudconf.py gives these processes what setup writes (no PICLOUD_<NAME> for it).
    unset = dict.fromkeys(["api_key", "api_secretkey", "server_url", "broker_url"])
    written = run_picloud(
        "setup",
        "--api-key",
        TEST_API_KEY,
        "--api-secretkey",
        TEST_SECRET,
        "--server-url",
        "http://web.example:8000",
        "--broker-url",
        cluster.url,
        env=unset,
    )
    path = tmp_path / "cloudconf.py"
    assert (written.returncode, written.stderr) == (0, "")
    assert written.stdout == (
        f"wrote {path}\n"
        f"  api_key: {TEST_API_KEY}\n"
        "  server_url: http://web.example:8000\n"
        f"  broker_url: {broker.redact(cluster.url)}\n"
    )
    settings = Settings.load(environ={}, config_dir=str(tmp_path))
    assert (settings.api_key, settings.api_secretkey) == (TEST_API_KEY, TEST_SECRET)
    assert (settings.server_url, settings.broker_url) == ("http://web.example:8000", cluster.url)
    text = path.read_text()
    assert f"\napi_key = '{TEST_API_KEY}'\n" in text and f"\nbroker_url = '{cluster.url}'\n" in text

    ran = run_picloud("call", "--wait", "--json", "tests.jobfuncs:add", "2", "3", env=unset)
    assert (ran.returncode, json.loads(ran.stdout)["result"]) == (0, 5)

    bad = ["--api-key", "9", "--api-secretkey", "t", "--server-url", "", "--broker-url", "x:1"]
    refused = run_picloud("setup", *bad, env=unset)
    one_error_line(refused, "setting broker_url (from argument) must be")
    assert path.read_text() == text  # nothing written
