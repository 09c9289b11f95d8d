"""``picloud status/result/info/kill/delete JIDS``: jobs already submitted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

import picloud
from picloud.cli.output import json_option, show, text
from picloud.cli.params import JIDS, flatten
from picloud.cli.waiting import wait_results
from picloud.jids import describe_jids

jids_argument = click.argument("jids", nargs=-1, required=True, type=JIDS)


@click.command()
@jids_argument
@json_option
def status(jids: tuple[list[int], ...], as_json: bool) -> None:
    """Print the status of each job (JIDS: 5, 10-20 or 3,10-20)."""
    jid_list = flatten(jids)
    statuses = picloud.status(jid_list)
    show(
        {str(jid): value for jid, value in zip(jid_list, statuses)},
        as_json,
        (f"{jid} {value}" for jid, value in zip(jid_list, statuses)),
    )


@click.command()
@jids_argument
@click.option("--timeout", type=float, help="Seconds to wait for each result.")
@click.option("--ignore-errors", is_flag=True, help="Print failed jobs' errors as results.")
@json_option
def result(
    jids: tuple[list[int], ...], timeout: float | None, ignore_errors: bool, as_json: bool
) -> None:
    """Wait for the jobs and print their results (one job: the bare value)."""
    jid_list = flatten(jids)
    values = wait_results(jid_list, timeout, ignore_errors)
    if len(jid_list) == 1 and not as_json:
        click.echo(text(values[0]))
        return
    show(
        {str(jid): value for jid, value in zip(jid_list, values)},
        as_json,
        (f"{jid} {text(value)}" for jid, value in zip(jid_list, values)),
    )


@click.command()
@jids_argument
@click.option(
    "-f",
    "--field",
    "fields",
    multiple=True,
    help="A field to show (repeat it; 'all' for every field). Default: stdout, stderr, status, "
    "runtime.",
)
@json_option
def info(jids: tuple[list[int], ...], fields: tuple[str, ...], as_json: bool) -> None:
    """Print information about the jobs: status, output, runtime, …"""
    found = picloud.info(flatten(jids), list(fields) or None)
    show({str(jid): values for jid, values in found.items()}, as_json, _info_lines(found))


def _info_lines(found: dict[int, dict[str, Any]]) -> Iterator[str]:
    for jid, values in found.items():
        yield f"job {jid}"
        for name, value in values.items():
            lines = text(value).splitlines() or [""]
            yield f"  {name}: {lines[0]}"
            yield from (f"    {line}" for line in lines[1:])


@click.command()
@jids_argument
@json_option
def kill(jids: tuple[list[int], ...], as_json: bool) -> None:
    """Kill the jobs that have not finished."""
    jid_list = flatten(jids)
    picloud.kill(jid_list)
    show({"killed": jid_list}, as_json, [f"killed {describe_jids(jid_list)}"])


@click.command()
@jids_argument
@json_option
def delete(jids: tuple[list[int], ...], as_json: bool) -> None:
    """Delete finished jobs (their results, output and information)."""
    jid_list = flatten(jids)
    picloud.delete(jid_list)
    show({"deleted": jid_list}, as_json, [f"deleted {describe_jids(jid_list)}"])
