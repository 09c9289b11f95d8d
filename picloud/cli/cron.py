"""``picloud cron list/info/run``: the current API key's crons (cloud.cron) through the web UI."""

from __future__ import annotations

from typing import Any

import click

from picloud import cron as cloud_cron
from picloud.cli.output import fields, json_option, show, table, text, utc
from picloud.cli.waiting import wait_results
from picloud.exceptions import CloudException


def _label(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return cloud_cron.check_label(value)
    except (TypeError, ValueError) as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


label_argument = click.argument("label", callback=_label)


@click.group()
def cron() -> None:
    """Crons: functions the cluster runs on a schedule, in UTC (cloud.cron)."""


@cron.command("list")
@json_option
def list_crons(as_json: bool) -> None:
    """Print the crons: label, schedule (UTC), last run and its jid, function."""
    found = [about for about in map(_info_if_any, cloud_cron.list()) if about is not None]
    rows = (
        (c["label"], c["schedule"], utc(c["last_run"]), c["last_jid"], c["funcname"]) for c in found
    )
    show(found, as_json, table(("LABEL", "SCHEDULE", "LAST RUN", "LAST JID", "FUNCTION"), rows))


def _info_if_any(label: str) -> dict[str, Any] | None:
    """cron.info, or None for a cron deregistered since it was listed."""
    try:
        return cloud_cron.info(label)
    except CloudException as exc:
        if exc.status == 404:
            return None
        raise


@cron.command()
@label_argument
@json_option
def info(label: str, as_json: bool) -> None:
    """Print what is known about cron LABEL: schedule, function, runs."""
    about = cloud_cron.info(label)
    lines = fields(
        [
            ("label", about["label"]),
            ("schedule", f"{about['schedule']} (UTC)"),
            ("function", about["funcname"]),
            ("type", about["core_type"]),
            ("created", utc(about["created"])),
            ("creator host", about["creator_host"]),
            ("last run", utc(about["last_run"]) or "never"),
            ("last jid", about["last_jid"]),
        ]
    )
    show(about, as_json, lines)


@cron.command()
@label_argument
@click.option("--wait", is_flag=True, help="Wait for the job and print its result.")
@click.option("--timeout", type=float, help="Seconds to wait with --wait.")
@json_option
def run(label: str, wait: bool, timeout: float | None, as_json: bool) -> None:
    """Run cron LABEL now, as a job of its own, and print its jid."""
    jid = cloud_cron.manual_run(label)
    if not wait:
        show({"jid": jid}, as_json, [str(jid)])
        return
    value = wait_results([jid], timeout)[0]
    show({"jid": jid, "result": value}, as_json, [text(value)])
