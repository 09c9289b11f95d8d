"""``picloud cron``, ``picloud rest`` and ``picloud keys`` through click's CliRunner and as real
processes of the installed script, against Django's live server (the web UI's HTTP API) and the
session's Redis and Celery workers; the crons, functions and keys they list are made with the
Python clients first."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

import picloud.api
import picloud.config
from picloud import account, cron, rest
from picloud.cli import main
from tests import jobfuncs as jf
from tests.cli.test_subprocess import RunPicloud, one_error_line, run_script, script_env
from tests.http_api import conftest as http_api
from tests.http_api import funcs

pytestmark = pytest.mark.slow

# The HTTP API tests' fixtures: fast password hashes and a clean auth cache (autouse), the live
# server on the session's fleet, a fresh API key, and picloud configured as that key.
fast_passwords = http_api.fast_passwords
fresh_api_state = http_api.fresh_api_state
fleet = http_api.fleet
server = http_api.server
make_key = http_api.make_key
key = http_api.key
configured = http_api.configured

#: A time as the commands print it.
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


@pytest.fixture
def cli(transactional_db, configured: http_api.Key) -> Iterator[Callable[..., Result]]:
    """``cli('cron', 'list')``: the command in-process, as ``configured``'s key, with jobs on the
    fleet (stdout and stderr apart). The database comes first, so that the live server (whose
    thread holds a connection to it) is stopped before the test database is dropped."""
    picloud.api.reconnect()
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(main, list(args), input=input, env=env, catch_exceptions=False)

    yield run
    picloud.api.reconnect()


def fields(stdout: str) -> dict[str, str]:
    """``name: value`` lines as a dict, checking that the values start in one column."""
    lines = stdout.splitlines()
    starts = {len(line) - len(line.split(":", 1)[1].lstrip()) for line in lines}
    assert len(starts) == 1, stdout
    return {name: value.strip() for name, value in (line.split(":", 1) for line in lines)}


def columns(stdout: str) -> list[list[str]]:
    """A table's lines split into cells (two spaces or more apart), checking that each column
    starts in the same place on every line."""
    lines = stdout.splitlines()
    starts = [gap.end() for gap in re.finditer(" {2,}", lines[0])]
    for line in lines:
        assert all(line[i - 2 : i] == "  " and line[i : i + 1].strip() for i in starts), stdout
    return [re.split(r"  +", line.strip()) for line in lines]


def one_error(result: Result, *words: str) -> None:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == "" and result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def test_cron_list_info_and_run(cli):
    assert (cli("cron", "list").stdout, cli("cron", "list", "--json").stdout) == ("", "[]\n")
    cron.register(functools.partial(jf.print_text, "hi from cron"), "greet", "0 0 1 1 *")

    listed = cli("cron", "list")
    assert listed.exit_code == 0
    assert columns(listed.stdout) == [
        ["LABEL", "SCHEDULE", "LAST RUN", "LAST JID", "FUNCTION"],
        ["greet", "0 0 1 1 *", "-", "-", "tests.jobfuncs.print_text (partial)"],
    ]
    assert json.loads(cli("cron", "list", "--json").stdout) == [cron.info("greet")]

    about = fields(cli("cron", "info", "greet").stdout)
    assert UTC_TIME.fullmatch(about.pop("created"))
    assert about.pop("creator host")
    assert about == {
        "label": "greet",
        "schedule": "0 0 1 1 * (UTC)",
        "function": "tests.jobfuncs.print_text (partial)",
        "type": "c1",
        "last run": "never",
        "last jid": "-",
    }
    assert json.loads(cli("cron", "info", "--json", "greet").stdout) == cron.info("greet")

    jid = int(cli("cron", "run", "greet").stdout)
    waited = cli("cron", "run", "--wait", "greet")
    assert (waited.exit_code, waited.stdout) == (0, "hi from cron\n")
    as_json = json.loads(cli("cron", "run", "--wait", "--json", "greet").stdout)
    assert as_json == {"jid": jid + 2, "result": "hi from cron"}
    about = fields(cli("cron", "info", "greet").stdout)
    assert about["last jid"] == str(jid + 2) and UTC_TIME.fullmatch(about["last run"])


def test_cron_errors(cli):
    for command in ("info", "run"):
        one_error(cli("cron", command, "nope"), "no cron labelled 'nope'")
    refused = cli("cron", "info", "é")
    assert refused.exit_code == 2 and "printable ASCII" in refused.stderr


def test_rest_list_and_info(cli, configured, server):
    assert (cli("rest", "list").stdout, cli("rest", "list", "--json").stdout) == ("", "[]\n")
    rest.publish(funcs.add, "adder")
    rest.publish(funcs.echo, "echo.v1", out_encoding="raw")
    rest.publish(funcs.echo, "echo.v1", out_encoding="raw")

    rows = columns(cli("rest", "list").stdout)
    assert rows[0] == ["LABEL", "VERSION", "FUNCTION", "SIGNATURE", "UPDATED"]
    assert [row[:4] for row in rows[1:]] == [
        ["adder", "1", "tests.http_api.funcs.add", "(x, y=1)"],
        ["echo.v1", "2", "tests.http_api.funcs.echo", "(value)"],
    ]
    assert all(UTC_TIME.fullmatch(row[4]) for row in rows[1:])
    infos = [rest.info("adder"), rest.info("echo.v1")]
    assert json.loads(cli("rest", "list", "--json").stdout) == infos

    about = fields(cli("rest", "info", "adder").stdout)
    assert UTC_TIME.fullmatch(about.pop("created")) and UTC_TIME.fullmatch(about.pop("updated"))
    assert about == {
        "label": "adder",
        "url": f"{server}/r/{configured.key}/adder/",
        "function": "tests.http_api.funcs.add",
        "signature": "(x, y=1)",
        "output encoding": "json",
        "version": "1",
        "description": "Add y to x.",
    }
    assert json.loads(cli("rest", "info", "--json", "echo.v1").stdout) == infos[1]


def test_rest_errors(cli):
    one_error(cli("rest", "info", "nope"), "no published function 'nope'")
    refused = cli("rest", "info", "a b")
    assert refused.exit_code == 2 and "Label can only consist" in refused.stderr


def test_keys_list(cli, django_user_model):
    django_user_model.objects.create_user("alice", password="alice-pw")
    first, second = sorted(
        (account.create_key("alice", "alice-pw")["api_key"] for _ in range(2)), key=str
    )
    account.deactivate_key("alice", "alice-pw", second)

    listed = cli("keys", "list", "--username", "alice", "--password", "alice-pw")
    assert columns(listed.stdout) == [
        ["API KEY", "ACTIVE"],
        [str(first), "yes"],
        [str(second), "no"],
    ]
    login = {"PICLOUD_USERNAME": "alice", "PICLOUD_PASSWORD": "alice-pw"}
    active = cli("keys", "list", "--active-only", "--json", env=login)
    assert json.loads(active.stdout) == [{"api_key": first, "active": True}]

    asked = cli("keys", "list", "--json", input="alice\nalice-pw\n")
    assert asked.exit_code == 0
    assert asked.stderr.startswith("Username:") and "Password:" in asked.stderr
    assert "alice-pw" not in asked.output  # the password is not echoed
    assert json.loads(asked.stdout) == [  # the prompts went to stderr
        {"api_key": first, "active": True},
        {"api_key": second, "active": False},
    ]
    wrong = cli("keys", "list", "--username", "alice", "--password", "nope")
    one_error(wrong, "unknown or inactive user 'alice', or a wrong password")


def test_no_server_configured_is_one_error_line(cli, monkeypatch):
    monkeypatch.setenv("PICLOUD_SERVER_URL", "")
    picloud.config.reload()
    for args in (
        ["cron", "list"],
        ["cron", "run", "greet"],
        ["rest", "info", "adder"],
        ["keys", "list", "--username", "alice", "--password", "alice-pw"],
    ):
        one_error(cli(*args), "no server_url configured", "PICLOUD_SERVER_URL")


@pytest.fixture
def run_picloud(transactional_db, configured: http_api.Key, server, fleet, tmp_path) -> RunPicloud:
    """``run_picloud('cron', 'list')``: the script in a process of its own, as ``configured``'s
    key, on the live server and the fleet; ``env={'server_url': ''}`` changes its settings. The
    database comes first, so that the live server (whose thread holds a connection to it) is
    stopped before the test database is dropped."""
    as_key = dict(
        server_url=server,
        broker_url=fleet,
        api_key=configured.key,
        api_secretkey=configured.secret,
    )

    def run(*args: str, env: dict[str, str | None] | None = None):
        return run_script(args, script_env(tmp_path, **{**as_key, **(env or {})}))

    return run


def test_cron_list_info_and_run_as_a_process(run_picloud):
    empty = run_picloud("cron", "list")
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "")
    cron.register(functools.partial(jf.print_text, "hi from cron"), "greet", "0 0 1 1 *")

    listed = run_picloud("cron", "list")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert columns(listed.stdout) == [
        ["LABEL", "SCHEDULE", "LAST RUN", "LAST JID", "FUNCTION"],
        ["greet", "0 0 1 1 *", "-", "-", "tests.jobfuncs.print_text (partial)"],
    ]
    about = fields(run_picloud("cron", "info", "greet").stdout)
    assert UTC_TIME.fullmatch(about.pop("created")) and about.pop("creator host")
    assert about == {
        "label": "greet",
        "schedule": "0 0 1 1 * (UTC)",
        "function": "tests.jobfuncs.print_text (partial)",
        "type": "c1",
        "last run": "never",
        "last jid": "-",
    }

    waited = run_picloud("cron", "run", "--wait", "greet")
    assert (waited.returncode, waited.stdout, waited.stderr) == (0, "hi from cron\n", "")
    jid = json.loads(run_picloud("cron", "run", "--json", "greet").stdout)["jid"]
    as_json = json.loads(run_picloud("cron", "info", "--json", "greet").stdout)
    assert as_json == cron.info("greet") and as_json["last_jid"] == jid
    assert json.loads(run_picloud("cron", "list", "--json").stdout) == [as_json]


def test_cron_errors_are_one_line_as_a_process(run_picloud):
    missing = one_error_line(run_picloud("cron", "info", "nope"))
    assert missing == "Error: no cron labelled 'nope' (cloud.cron.list() names them) (HTTP 404)\n"
    one_error_line(run_picloud("cron", "run", "nope"), "no cron labelled 'nope'")
    refused = run_picloud("cron", "info", "é")
    assert refused.returncode == 2 and "printable ASCII" in refused.stderr
    assert "Traceback" not in refused.stderr
    nowhere = run_picloud("cron", "list", env={"server_url": ""})
    one_error_line(nowhere, "no server_url configured", "PICLOUD_SERVER_URL")


def test_rest_list_and_info_as_a_process(run_picloud, configured, server):
    empty = run_picloud("rest", "list", "--json")
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "[]\n", "")
    rest.publish(funcs.add, "adder")
    rest.publish(funcs.echo, "echo.v1", out_encoding="raw")
    rest.publish(funcs.echo, "echo.v1", out_encoding="raw")

    listed = run_picloud("rest", "list")
    assert (listed.returncode, listed.stderr) == (0, "")
    rows = columns(listed.stdout)
    assert rows[0] == ["LABEL", "VERSION", "FUNCTION", "SIGNATURE", "UPDATED"]
    assert [row[:4] for row in rows[1:]] == [
        ["adder", "1", "tests.http_api.funcs.add", "(x, y=1)"],
        ["echo.v1", "2", "tests.http_api.funcs.echo", "(value)"],
    ]
    assert all(UTC_TIME.fullmatch(row[4]) for row in rows[1:])

    about = fields(run_picloud("rest", "info", "adder").stdout)
    assert UTC_TIME.fullmatch(about.pop("created")) and UTC_TIME.fullmatch(about.pop("updated"))
    assert about == {
        "label": "adder",
        "url": f"{server}/r/{configured.key}/adder/",
        "function": "tests.http_api.funcs.add",
        "signature": "(x, y=1)",
        "output encoding": "json",
        "version": "1",
        "description": "Add y to x.",
    }
    assert json.loads(run_picloud("rest", "info", "--json", "echo.v1").stdout) == rest.info(
        "echo.v1"
    )
    missing = run_picloud("rest", "info", "nope")
    assert one_error_line(missing) == "Error: no published function 'nope' (HTTP 404)\n"
    refused = run_picloud("rest", "info", "a b")
    assert refused.returncode == 2 and "Label can only consist" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_keys_list_as_a_process(run_picloud, django_user_model):
    django_user_model.objects.create_user("alice", password="alice-pw")
    first, second = sorted(
        (account.create_key("alice", "alice-pw")["api_key"] for _ in range(2)), key=str
    )
    account.deactivate_key("alice", "alice-pw", second)
    login = {"username": "alice", "password": "alice-pw"}  # PICLOUD_USERNAME, PICLOUD_PASSWORD

    listed = run_picloud("keys", "list", env=login)
    assert (listed.returncode, listed.stderr) == (0, "")
    assert columns(listed.stdout) == [
        ["API KEY", "ACTIVE"],
        [str(first), "yes"],
        [str(second), "no"],
    ]
    active = run_picloud("keys", "list", "--active-only", "--json", env=login)
    assert json.loads(active.stdout) == [{"api_key": first, "active": True}]
    by_option = run_picloud("keys", "list", "--json", "--password", "alice-pw", env=login)
    assert [key["api_key"] for key in json.loads(by_option.stdout)] == [first, second]
    wrong = run_picloud("keys", "list", "--password", "nope", env=login)
    assert one_error_line(wrong) == (
        "Error: unknown or inactive user 'alice', or a wrong password (HTTP 401)\n"
    )
