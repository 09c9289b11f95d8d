"""``picloud setup``: write the key, secret, server and broker into cloudconf.py."""

from __future__ import annotations

import click

from picloud import broker, config
from picloud.cli.output import json_option, show


def _from_file(name: str) -> str:
    """The value cloudconf.py gives ``name`` now (its default if the file does not set it)."""
    return str(getattr(config.Settings.load(environ={}), name))


@click.command()
@click.option(
    "--api-key", prompt="API key", default=lambda: _from_file("api_key"), help="The API key."
)
@click.option(
    "--api-secretkey",
    prompt="API secret key",
    hide_input=True,
    show_default=False,
    default=lambda: _from_file("api_secretkey"),
    help="Its secret.",
)
@click.option(
    "--server-url",
    prompt="Server URL (web UI, HTTP API; blank for none)",
    default=lambda: _from_file("server_url"),
    help="The picloud server, e.g. https://picloud.example.com.",
)
@click.option(
    "--broker-url",
    prompt="Broker URL (blank: a local fleet, else the simulator)",
    default=lambda: _from_file("broker_url"),
    help="The cluster's Redis, e.g. redis://broker.example.com:6379/0.",
)
@json_option
def setup(
    api_key: str, api_secretkey: str, server_url: str, broker_url: str, as_json: bool
) -> None:
    """Write the API key, secret, server and broker into cloudconf.py.

    Prompts for what the options do not give; every other line of the file is kept."""
    path = config.write_settings(
        {
            "api_key": api_key,
            "api_secretkey": api_secretkey,
            "server_url": server_url,
            "broker_url": broker_url,
        }
    )
    shown = {
        "path": path,
        "api_key": api_key,
        "server_url": broker.redact(server_url),
        "broker_url": broker.redact(broker_url),
    }
    show(
        shown, as_json, [f"wrote {path}", *(f"  {k}: {v}" for k, v in shown.items() if k != "path")]
    )
