"""The ``picloud`` command in-process (click's CliRunner) on a fresh simulator and config dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

import cloud
import picloud.api
from picloud import config
from picloud.cli import main


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[str]:
    """A config directory of the test's own; jobs on the simulator (restarted on both sides)."""
    monkeypatch.setenv("PICLOUD_HOME", str(tmp_path))
    monkeypatch.setenv("PICLOUD_USE_SIMULATOR", "1")
    config.reload()
    picloud.api.reconnect()
    yield str(tmp_path)
    monkeypatch.undo()
    config.reload()
    picloud.api.reconnect()


@pytest.fixture
def picloud_cli(home: str) -> Callable[..., Result]:
    """``picloud_cli('status', '3')``: run the command; its stdout and stderr are apart."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture
def opened(home: str) -> None:
    """The simulator opened by the test, so jobs a command submits outlive the command (it
    closes only a connection it opened itself)."""
    cloud.result(cloud.call(abs, 0))
