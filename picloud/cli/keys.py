"""``picloud keys list``: a web UI user's API keys (cloud.account), by username and password."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from picloud import account
from picloud.cli.output import json_option, show, table


def _prompted(prompt: str, hidden: bool) -> Callable[[click.Context, click.Parameter, Any], str]:
    """An option callback that asks for a missing value on the terminal (on stderr, so that
    ``--json`` output stays one document)."""

    def value_or_prompt(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
        return click.prompt(prompt, hide_input=hidden, err=True) if value is None else value

    return value_or_prompt


@click.group()
def keys() -> None:
    """API keys of a web UI user (cloud.account)."""


@keys.command("list")
@click.option(
    "--username",
    envvar="PICLOUD_USERNAME",
    show_envvar=True,
    callback=_prompted("Username", hidden=False),
    help="Your web UI login (asked for when missing).",
)
@click.option(
    "--password",
    envvar="PICLOUD_PASSWORD",
    show_envvar=True,
    callback=_prompted("Password", hidden=True),
    help="Its password (asked for, hidden, when missing).",
)
@click.option("--active-only", is_flag=True, help="Only the active keys.")
@json_option
def list_keys(username: str, password: str, active_only: bool, as_json: bool) -> None:
    """Print the user's API keys and whether each is active (secrets are never stored)."""
    active = account.list_keys(username, password, active_only=True)
    every = active if active_only else account.list_keys(username, password)
    found = [{"api_key": key, "active": key in active} for key in every]
    rows = ((key["api_key"], "yes" if key["active"] else "no") for key in found)
    show(found, as_json, table(("API KEY", "ACTIVE"), rows))
