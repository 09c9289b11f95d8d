"""How the ``picloud`` command prints: text or ``--json``, values, one-line errors."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import click

from picloud.exceptions import CloudException

F = TypeVar("F", bound=Callable[..., Any])

_TRACEBACK = "Traceback (most recent call last):"


def json_option(command: F) -> F:
    """Add ``--json`` (passed as ``as_json``) to a command."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(
        command
    )


def show(data: Any, as_json: bool, lines: Iterable[str]) -> None:
    """Print ``data`` as one JSON document, or ``lines`` as text."""
    if as_json:
        click.echo(json.dumps(data, default=_jsonable))
        return
    for line in lines:
        click.echo(line)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, range | tuple | set | frozenset):
        return list(value)
    if isinstance(value, BaseException):
        return one_line(value)
    return repr(value)


def text(value: Any) -> str:
    """A value as the text commands print: a str as it is, a datetime in ISO format, anything
    else as its repr."""
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {one_line(value)}"
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    return value if isinstance(value, str) else repr(value)


def one_line(error: BaseException) -> str:
    """The error's message on one line: a remote traceback becomes its last line
    (``Job 5: ZeroDivisionError: division by zero``); a server's refusal ends with its HTTP
    status (``no cron labelled 'x' (HTTP 404)``)."""
    if isinstance(error, CloudException) and error.jid is None and error.status is not None:
        return f"{one_line(CloudException(error.parameter))} (HTTP {error.status})"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    first = lines[0]
    if len(lines) > 1 and first.endswith(_TRACEBACK):
        return first[: -len(_TRACEBACK)] + lines[-1]
    return " ".join(lines)


#: What an absent value (a cron that never ran) prints as.
ABSENT = "-"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """``header`` and ``rows`` as lines of left-aligned columns two spaces apart (no lines at
    all when there are no rows)."""
    cells = [[ABSENT if value is None else text(value) for value in row] for row in rows]
    if not cells:
        return
    cells.insert(0, list(header))
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    for row in cells:
        yield "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()


def fields(pairs: Sequence[tuple[str, Any]]) -> Iterator[str]:
    """``name: value`` lines with the values aligned; a value's further lines indented."""
    width = max(len(name) for name, _ in pairs) + 2
    for name, value in pairs:
        lines = (ABSENT if value is None else text(value)).splitlines() or [""]
        yield f"{name + ':':<{width}}{lines[0]}".rstrip()
        yield from (" " * width + line for line in lines[1:])


def utc(when: str | None) -> str | None:
    """A time the web UI sent (a UTC ``YYYY-MM-DD HH:MM:SS`` string) as the text to print."""
    return None if when is None else f"{when} UTC"
