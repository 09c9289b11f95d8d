"""``picloud status/result/info/kill/delete`` on jobs this process submitted to the simulator."""

from __future__ import annotations

import json

import pytest

import cloud
from tests import jobfuncs as jf


def test_status_of_jids_and_ranges(picloud_cli):
    jids = cloud.map(jf.square, range(4))
    cloud.join(jids)
    done = picloud_cli("status", f"{jids[0]}-{jids[2]},{jids[3]}")
    assert done.exit_code == 0
    assert done.stdout.splitlines() == [f"{jid} done" for jid in jids]
    as_json = picloud_cli("status", "--json", str(jids[0]), str(jids[1]))
    assert json.loads(as_json.stdout) == {str(jids[0]): "done", str(jids[1]): "done"}


@pytest.mark.parametrize("bad", ["x", "3-1", "-2", "1-2-3"])
def test_bad_jids_are_a_usage_error(picloud_cli, bad):
    refused = picloud_cli("status", "--", bad)
    assert refused.exit_code == 2
    assert "is not a jid or a range like 10-20" in refused.stderr


def test_result_of_one_and_many(picloud_cli):
    jids = cloud.map(jf.sleep_then_return, [0, 0, 0], ["text", 2, [3]])
    one = picloud_cli("result", str(jids[0]))
    assert one.stdout == "text\n"
    many = picloud_cli("result", f"{jids[0]}-{jids[-1]}")
    assert many.stdout.splitlines() == [
        f"{jids[0]} text",
        f"{jids[1]} 2",
        f"{jids[2]} [3]",
    ]
    assert many.stderr == ""  # no progress bar when stderr is not a terminal
    as_json = picloud_cli("result", "--json", str(jids[2]))
    assert json.loads(as_json.stdout) == {str(jids[2]): [3]}


def test_result_of_a_failed_job_is_one_error_line(picloud_cli):
    jid = cloud.call(jf.raise_value_error, "broken")
    failed = picloud_cli("result", str(jid))
    assert failed.exit_code == 1
    assert failed.stderr == f"Error: Job {jid}: ValueError: broken\n"
    ignored = picloud_cli("result", "--ignore-errors", str(jid), str(cloud.call(abs, -1)))
    assert ignored.exit_code == 0
    assert ignored.stdout.splitlines()[0] == f"{jid} CloudException: Job {jid}: ValueError: broken"


def test_result_timeout(picloud_cli, tmp_path):
    jid = cloud.call(jf.wait_for_file, str(tmp_path / "gate"))
    waited = picloud_cli("result", "--timeout", "0.05", str(jid))
    assert waited.exit_code == 1
    assert waited.stderr.startswith("Error: ") and "timed out" in waited.stderr
    cloud.kill(jid)


def test_info_fields_and_json(picloud_cli):
    jid = cloud.call(jf.print_text, "line one\nline two")
    cloud.join(jid)
    shown = picloud_cli("info", str(jid))
    assert shown.stdout.startswith(f"job {jid}\n")
    assert "  stdout: line one\n    line two\n" in shown.stdout
    assert "  status: done\n" in shown.stdout
    fields = picloud_cli("info", "--json", "-f", "status", "-f", "created", str(jid))
    found = json.loads(fields.stdout)[str(jid)]
    assert found["status"] == "done" and set(found) == {"status", "created"}
    unknown = picloud_cli("info", "--json", "-f", "nonsense", "-f", "status", str(jid))
    assert json.loads(unknown.stdout) == {str(jid): {"status": "done"}}  # as cloud.info: left out


def test_kill_and_delete(picloud_cli, tmp_path):
    jid = cloud.call(jf.wait_for_file, str(tmp_path / "gate"))
    killed = picloud_cli("kill", str(jid))
    assert killed.stdout == f"killed {jid}\n"
    assert cloud.status(jid) == "killed"
    deleted = picloud_cli("delete", "--json", str(jid))
    assert json.loads(deleted.stdout) == {"deleted": [jid]}
    gone = picloud_cli("status", str(jid))
    assert gone.exit_code == 1
    assert gone.stderr.startswith(f"Error: Job {jid}: Does not exist or was purged from cache")
    assert "the simulator knows only this command's jobs" in gone.stderr


def test_the_command_closes_only_what_it_opened(picloud_cli):
    assert cloud.connection_info()["opened"] is False
    picloud_cli("call", "--wait", "builtins:abs", "-3")
    assert cloud.connection_info()["opened"] is False
    jid = cloud.call(abs, -4)
    picloud_cli("status", str(jid))
    assert cloud.connection_info()["opened"] is True
    assert cloud.result(jid) == 4
