"""``picloud setup`` writes key, secret, server and broker into cloudconf.py."""

from __future__ import annotations

import json
import os

from picloud import config
from picloud.config import Settings


def test_setup_prompts_and_keeps_the_file(picloud_cli, home):
    path = config.ensure_config_file()
    with open(path, "a") as handle:
        handle.write("num_procs = 3\n")
    answers = "1234\nsecret\nhttp://web:8000/\nredis://:pw@broker:6379/0\n"
    done = picloud_cli("setup", input=answers)
    assert done.exit_code == 0, done.output
    assert "secret" not in done.stdout.replace("API secret key", "")  # the secret is not echoed
    assert f"wrote {path}" in done.stdout
    assert "broker_url: redis://:***@broker:6379/0" in done.stdout
    written = Settings.load(environ={}, config_dir=home)
    assert (written.api_key, written.api_secretkey) == ("1234", "secret")
    assert (written.server_url, written.broker_url) == (
        "http://web:8000/",
        "redis://:pw@broker:6379/0",
    )
    assert written.num_procs == 3
    with open(path) as handle:
        text = handle.read()
    assert "# api_key = 'None'\napi_key = '1234'\n" in text  # the commented default stays


def test_setup_offers_what_the_file_has(picloud_cli, home):
    picloud_cli(
        "setup",
        "--api-key",
        "7",
        "--api-secretkey",
        "s",
        "--server-url",
        "",
        "--broker-url",
        "redis://b:6379/0",
    )
    again = picloud_cli("setup", input="\n\n\n\n")
    assert again.exit_code == 0
    assert "API key [7]" in again.stdout
    written = Settings.load(environ={}, config_dir=home)
    assert (written.api_key, written.api_secretkey, written.broker_url) == (
        "7",
        "s",
        "redis://b:6379/0",
    )


def test_setup_without_prompts_and_json(picloud_cli, home):
    done = picloud_cli(
        "setup",
        "--json",
        "--api-key",
        "9",
        "--api-secretkey",
        "t",
        "--server-url",
        "",
        "--broker-url",
        "",
    )
    assert json.loads(done.stdout) == {
        "path": os.path.join(home, "cloudconf.py"),
        "api_key": "9",
        "server_url": "",
        "broker_url": "",
    }


def test_setup_refuses_a_bad_broker(picloud_cli, home):
    refused = picloud_cli(
        "setup",
        "--api-key",
        "9",
        "--api-secretkey",
        "t",
        "--server-url",
        "",
        "--broker-url",
        "localhost:6379",
    )
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: setting broker_url (from argument) must be")
