"""The ``picloud`` command group: its commands, and errors as one ``Error: ...`` line."""

from __future__ import annotations

from typing import Any

import click

import picloud
from picloud.cli.cron import cron
from picloud.cli.files import files
from picloud.cli.jobs import delete, info, kill, result, status
from picloud.cli.keys import keys
from picloud.cli.output import one_line
from picloud.cli.rest import rest
from picloud.cli.run import call, exec_command
from picloud.cli.setup import setup
from picloud.exceptions import CloudException, NoSuchJobError

_SIMULATOR_NOTE = " (no cluster is configured: the simulator knows only this command's jobs)"


class CloudGroup(click.Group):
    """A group whose commands end a CloudException or OSError as one ``Error: ...`` line on
    stderr and exit code 1, and close the connection they opened (before the interpreter
    exits, so no local worker process outlives the command)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            was_open = picloud.connection_info()["opened"]
            try:
                return super().invoke(ctx)
            finally:
                if not was_open:
                    picloud.close()
        except (CloudException, OSError) as exc:
            message = one_line(exc)
            if isinstance(exc, NoSuchJobError) and picloud.is_simulated():
                message += _SIMULATOR_NOTE
            raise click.ClickException(message) from None


@click.group(cls=CloudGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="picloud")
def main() -> None:
    """picloud: PiCloud's command line for a self-hosted fleet.

    Jobs run on the cluster cloudconf.py or PICLOUD_BROKER_URL names (or a local fleet),
    else through the server_url with the api key (a user off the cluster's network); without
    either, on the local simulator, which knows only the jobs of one command."""


for _command in (setup, call, exec_command, status, result, info, kill, delete, files):
    main.add_command(_command)
for _command in (cron, rest, keys):  # these call the web UI (server_url)
    main.add_command(_command)
