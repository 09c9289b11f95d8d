"""The command's building blocks: one-line errors, jid ranges, arguments, the progress bar."""

from __future__ import annotations

import io

import click
import pytest

from picloud.cli.output import one_line
from picloud.cli.params import JIDS, call_arguments, literal
from picloud.cli.waiting import progress
from picloud.exceptions import CloudException


def test_one_line_keeps_a_tracebacks_last_line():
    remote = "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'a'\n"
    assert one_line(CloudException(remote, 5)) == "Job 5: KeyError: 'a'"
    assert one_line(CloudException("plain")) == "plain"
    assert one_line(CloudException("two\nlines")) == "two lines"


def test_jid_ranges():
    assert JIDS.convert("5", None, None) == [5]
    assert JIDS.convert("10-12,3", None, None) == [10, 11, 12, 3]
    with pytest.raises(click.BadParameter):
        JIDS.convert("1,,2", None, None)


def test_call_arguments():
    assert call_arguments(["1", "'a'", "b", "x=[1]", "y=text"]) == (
        [1, "a", "b"],
        {"x": [1], "y": "text"},
    )
    assert call_arguments(["1+1=2", "a=b=c"]) == (["1+1=2"], {"a": "b=c"})
    assert literal("None") is None and literal("os.system") == "os.system"
    with pytest.raises(click.UsageError):
        call_arguments(["x=1", "2"])


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal():
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with progress(3, stream) as bar:
            bar.update(3)
    assert "waiting:   0%|          | 0/3" in terminal.getvalue()
    assert pipe.getvalue() == ""
