"""Waiting for results, with a tqdm progress bar on stderr when stderr is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from tqdm import tqdm

import picloud


def progress(total: int, stream: TextIO | None = None) -> tqdm:
    """A progress bar over ``total`` jobs on ``stream`` (stderr), shown only on a terminal."""
    stream = sys.stderr if stream is None else stream
    return tqdm(
        total=total,
        file=stream,
        disable=not stream.isatty(),
        unit="job",
        desc="waiting",
        leave=False,
        dynamic_ncols=True,
    )


def wait_results(
    jids: Sequence[int], timeout: float | None = None, ignore_errors: bool = False
) -> list[Any]:
    """The results of ``jids`` in order, counting them on a progress bar. ``timeout`` bounds the
    wait for each result; a failed job raises unless ``ignore_errors`` (then its slot holds the
    CloudException)."""
    values: list[Any] = []
    with progress(len(jids)) as bar:
        for value in picloud.iresult(jids, timeout=timeout, ignore_errors=ignore_errors):
            values.append(value)
            bar.update()
    return values
