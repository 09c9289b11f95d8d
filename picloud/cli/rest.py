"""``picloud rest list/info``: the current API key's published functions (cloud.rest)."""

from __future__ import annotations

from typing import Any

import click

from picloud import rest as cloud_rest
from picloud.cli.output import fields, json_option, show, table, utc
from picloud.exceptions import CloudException


@click.group()
def rest() -> None:
    """Published functions, which any HTTP client can run (cloud.rest)."""


@rest.command("list")
@json_option
def list_functions(as_json: bool) -> None:
    """Print the published functions: label, version, function and signature, last update."""
    found = [about for about in map(_info_if_any, cloud_rest.list()) if about is not None]
    rows = (
        (f["label"], f["version"], f["function"], f["signature"], utc(f["updated"])) for f in found
    )
    show(found, as_json, table(("LABEL", "VERSION", "FUNCTION", "SIGNATURE", "UPDATED"), rows))


def _info_if_any(label: str) -> dict[str, Any] | None:
    """rest.info, or None for a function removed since it was listed."""
    try:
        return cloud_rest.info(label)
    except CloudException as exc:
        if exc.status == 404:
            return None
        raise


@rest.command()
@click.argument("label")
@json_option
def info(label: str, as_json: bool) -> None:
    """Print what is known about the published function LABEL, and the URL that runs it."""
    try:
        about = cloud_rest.info(label)
    except TypeError as exc:  # a label no URL can name: refused before any request
        raise click.BadParameter(str(exc), param_hint="'LABEL'") from None
    lines = fields(
        [
            ("label", about["label"]),
            ("url", about["uri"]),
            ("function", about["function"]),
            ("signature", about["signature"]),
            ("output encoding", about["output_encoding"]),
            ("version", about["version"]),
            ("created", utc(about["created"])),
            ("updated", utc(about["updated"])),
            ("description", about["description"]),
        ]
    )
    show(about, as_json, lines)
