"""What the ``picloud`` command's arguments mean: jid lists and ranges, call arguments."""

from __future__ import annotations

import ast
import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click


class JidsType(click.ParamType):
    """Jids as ``5``, ``10-20`` (inclusive) or a comma-separated mix: ``3,10-20,25``."""

    name = "JIDS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, list):
            return value
        jids: list[int] = []
        for part in str(value).split(","):
            first, dash, last = part.strip().partition("-")
            try:
                low = int(first)
                high = int(last) if dash else low
            except ValueError:
                self.fail(f"{part.strip()!r} is not a jid or a range like 10-20", param, ctx)
            if low < 0 or high < low:
                self.fail(f"{part.strip()!r} is not a jid or a range like 10-20", param, ctx)
            jids.extend(range(low, high + 1))
        return jids


JIDS = JidsType()


def flatten(groups: Iterable[list[int]]) -> list[int]:
    """The jids of every JIDS argument, in order."""
    return [jid for group in groups for jid in group]


def literal(text: str) -> Any:
    """``text`` as a Python literal (``3``, ``'a'``, ``[1, 2]``, ``None``), else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def call_arguments(tokens: Iterable[str]) -> tuple[list[Any], dict[str, Any]]:
    """``1 2 x=3`` as ``([1, 2], {'x': 3})``; ``name=`` needs a Python identifier before ``=``."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for token in tokens:
        name, equals, value = token.partition("=")
        if equals and name.isidentifier():
            kwargs[name] = literal(value)
        elif kwargs:
            raise click.UsageError(f"positional argument {token!r} follows keyword arguments")
        else:
            args.append(literal(token))
    return args, kwargs


def load_function(spec: str) -> Callable[..., Any]:
    """The function ``MODULE:NAME`` names (the current directory is importable, as with
    ``python -m``)."""
    module_name, colon, name = spec.partition(":")
    if not colon or not module_name or not name:
        raise click.BadParameter(f"{spec!r}: use MODULE:FUNCTION, e.g. math:factorial")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.ClickException(f"cannot import {module_name}: {exc}") from None
    for part in name.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise click.ClickException(f"{module_name} has no attribute {name}") from None
    if not callable(found):
        raise click.ClickException(f"{spec} is not callable")
    return found
