"""Functions the HTTP API tests publish (importable by the workers: pickled by reference)."""

from __future__ import annotations

import datetime

from tests.jobfuncs import wait_for_file


def add(x, y=1):
    """Add y to x."""
    return x + y


def echo(value):
    return value


def greet(name):
    return f"héllo {name}"


def all_bytes():
    return bytes(range(256))


def a_set():
    return {1, 2}


def a_date():
    return datetime.datetime(2020, 1, 2, 3, 4, 5)


def size_of(data):
    """How many bytes (or characters) ``data`` has."""
    return len(data)


def shout(text):
    print(text.upper())
    return text.upper()


def wait_for_gate(path):
    """Return "opened" once the file ``path`` exists."""
    return wait_for_file(path, "opened")
