"""Files that hold a local job's stdout and stderr, created only when the job prints."""

from __future__ import annotations

import os
from typing import Any


class JobStream:
    """A worker's sys.stdout or sys.stderr for its whole life: what a job writes goes to that
    job's file, created on its first write and flushed on every write, so the engine can read
    it while the job runs. Jobs that print nothing cost no file."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, outdir: str, stream: str) -> None:
        self.outdir = outdir
        self.stream = stream
        self.jid = 0
        self._file: Any = None

    def begin(self, jid: int) -> None:
        self.jid = jid

    def end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def write(self, text: str) -> int:
        if self._file is None:
            path = output_path(self.outdir, self.jid, self.stream)
            self._file = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
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


def output_path(outdir: str, jid: int, stream: str) -> str:
    """Where job ``jid``'s ``stream`` ('stdout' or 'stderr') is kept."""
    return os.path.join(outdir, f"{jid}.{stream}")


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
