"""``picloud files put/get/list/delete``: the current API key's stored files."""

from __future__ import annotations

import os

import click

from picloud import files as cloud_files
from picloud.cli.output import json_option, show


@click.group()
def files() -> None:
    """Store and fetch files (cloud.files)."""


@files.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("name", required=False)
@json_option
def put(source: str, name: str | None, as_json: bool) -> None:
    """Store the local file SOURCE as NAME (default: its base name)."""
    name = os.path.basename(source) if name is None else name
    cloud_files.put(source, name)
    show({"name": name}, as_json, [f"stored {name}"])


@files.command()
@click.argument("name")
@click.argument("destination", required=False)
@json_option
def get(name: str, destination: str | None, as_json: bool) -> None:
    """Save the stored file NAME as DESTINATION (default: NAME)."""
    destination = name if destination is None else destination
    cloud_files.get(name, destination)
    show({"name": name, "path": destination}, as_json, [f"saved {destination}"])


@files.command("list")
@json_option
def list_files(as_json: bool) -> None:
    """Print the names of the stored files."""
    names = cloud_files.list()
    show(names, as_json, names)


@files.command()
@click.argument("names", nargs=-1, required=True)
@json_option
def delete(names: tuple[str, ...], as_json: bool) -> None:
    """Delete the stored files NAMES."""
    missing = [name for name in names if not cloud_files.delete(name)]
    if missing:
        raise click.ClickException(f"no such file: {', '.join(missing)}")
    show({"deleted": list(names)}, as_json, [f"deleted {name}" for name in names])
