"""``picloud call`` and ``picloud exec``: new jobs from the shell."""

from __future__ import annotations

import json

import cloud
from picloud.cli.run import CommandResult, run_command


def test_call_prints_the_jid(picloud_cli, opened):
    submitted = picloud_cli("call", "tests.jobfuncs:add", "1", "b=2")
    jid = int(submitted.stdout)
    assert cloud.result(jid) == 3


def test_call_wait_parses_literals(picloud_cli):
    waited = picloud_cli("call", "--wait", "tests.jobfuncs:identity", "1", "[2, 3]", "x", "k=None")
    assert waited.stdout == "((1, [2, 3], 'x'), {'k': None})\n"
    negative = picloud_cli("call", "builtins:abs", "-7", "--wait", "--json")
    assert json.loads(negative.stdout)["result"] == 7


def test_call_options_reach_the_job(picloud_cli, opened):
    jid = int(picloud_cli("call", "--type", "m1", "--label", "nightly", "builtins:abs", "1").stdout)
    cloud.join(jid)
    assert cloud.info(jid, "label")[jid]["label"] == "nightly"


def test_call_errors_are_one_line(picloud_cli):
    cases = {
        ("call", "nosuchmodule:f"): "Error: cannot import nosuchmodule: No module named",
        ("call", "math:nothere"): "Error: math has no attribute nothere",
        ("call", "math:factorial", "1", "2"): "Error: factorial(): too many positional arguments",
        ("call", "--wait", "operator:truediv", "1", "0"): "ZeroDivisionError: division by zero",
        ("call", "--type", "z9", "builtins:abs", "1"): "Error: ",
    }
    for args, start in cases.items():
        failed = picloud_cli(*args)
        assert failed.exit_code == 1, args
        assert start in failed.stderr and len(failed.stderr.splitlines()) == 1, failed.stderr
        assert "Traceback" not in failed.output
    usage = picloud_cli("call", "math")
    assert usage.exit_code == 2 and "use MODULE:FUNCTION" in usage.stderr


def test_exec_prints_output_and_exits_with_the_code(picloud_cli):
    echoed = picloud_cli("exec", "--", "echo", "hello", "world")
    assert (echoed.exit_code, echoed.stdout, echoed.stderr) == (0, "hello world\n", "")
    shell = picloud_cli("exec", "echo out; echo err >&2; exit 3")
    assert (shell.exit_code, shell.stdout, shell.stderr) == (3, "out\n", "err\n")
    options_go_to_the_command = picloud_cli("exec", "ls", "-d", "/", "--json")
    assert options_go_to_the_command.exit_code == 2  # ls has no --json


def test_exec_json(picloud_cli):
    shown = picloud_cli("exec", "--json", "--", "sh", "-c", "echo hi; exit 4")
    assert shown.exit_code == 4
    assert json.loads(shown.stdout) == {
        "jid": json.loads(shown.stdout)["jid"],
        "returncode": 4,
        "stdout": "hi\n",
        "stderr": "",
    }


def test_run_command_as_a_shell_would(tmp_path):
    assert run_command(["no-such-program-here"]).returncode == 127
    missing = run_command(["no-such-program-here", "arg"])
    assert missing == CommandResult(127, "", "no-such-program-here: command not found\n")
    data = tmp_path / "data.txt"
    data.write_text("not a program")
    data.chmod(0o644)
    assert run_command([str(data), "x"]) == CommandResult(126, "", f"{data}: Permission denied\n")
    assert run_command(["printf", "%s|", "a b", "c"]).stdout == "a b|c|"


def test_exec_output_is_also_the_jobs_output(picloud_cli, opened):
    shown = picloud_cli("exec", "--json", "echo visible")
    jid = json.loads(shown.stdout)["jid"]
    assert cloud.info(jid, "stdout")[jid]["stdout"] == "visible\n"
