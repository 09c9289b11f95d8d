"""Files that hold a local job's stdout and stderr, created only when the job prints."""

from __future__ import annotations

import os
from typing import Any

from picloud.execution import Output


class LazyFile:
    """A text stream that creates its file on the first write and flushes every write,
    so the engine can read the output while the job runs."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: Any = None

    def write(self, text: str) -> int:
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        written = self._file.write(text)
        self._file.flush()
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def output_path(outdir: str, jid: int, stream: str) -> str:
    """Where job ``jid``'s ``stream`` ('stdout' or 'stderr') is kept."""
    return os.path.join(outdir, f"{jid}.{stream}")


def job_output(outdir: str, jid: int) -> Output:
    return Output(
        LazyFile(output_path(outdir, jid, "stdout")), LazyFile(output_path(outdir, jid, "stderr"))
    )


def read_tail(outdir: str, jid: int, stream: str, chars: int) -> str | None:
    """The last ``chars`` characters a job wrote to ``stream`` ('' if it wrote nothing)."""
    try:
        with open(output_path(outdir, jid, stream), "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - chars * 4))
            data = handle.read()
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", errors="replace")[-chars:]


def remove_output(outdir: str, jid: int) -> None:
    for stream in ("stdout", "stderr"):
        try:
            os.unlink(output_path(outdir, jid, stream))
        except FileNotFoundError:
            pass
