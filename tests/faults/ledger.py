"""Reading the start and end records the jobs of tests/faults/jobs.py append."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.faults.jobs import ENDS, STARTS


@dataclass(frozen=True)
class Record:
    """One line: a job started (or ended) in process ``pid`` at unix time ``time``."""

    jid: int
    pid: int
    time: float


def read(path: Path) -> list[Record]:
    """The complete lines of ``path`` (none if it does not exist yet)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines(keepends=True):
        fields = line.split()
        if line.endswith("\n") and len(fields) == 3 and fields[0].isdigit():
            out.append(Record(int(fields[0]), int(fields[1]), float(fields[2])))
    return out


class Ledger:
    """The records of one test's jobs, kept in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        for name in (STARTS, ENDS):  # jobs of every sandbox uid append to them
            path = directory / name
            path.touch()
            path.chmod(0o666)

    def starts(self) -> list[Record]:
        return read(self.directory / STARTS)

    def ends(self) -> list[Record]:
        return read(self.directory / ENDS)

    def executions(self, jids: Iterable[int]) -> Counter[int]:
        """jid -> how many times it started, for ``jids``."""
        wanted = set(jids)
        return Counter(r.jid for r in self.starts() if r.jid in wanted)

    def reruns_outside(self, pids: Iterable[int]) -> list[int]:
        """jids that started again after a run in a process not among ``pids`` (the killed
        ones): a re-run nothing justifies."""
        dead = set(pids)
        runs: dict[int, list[Record]] = {}
        for record in self.starts():
            runs.setdefault(record.jid, []).append(record)
        return sorted(
            jid
            for jid, made in runs.items()
            if any(r.pid not in dead for r in sorted(made, key=lambda r: r.time)[:-1])
        )

    def interrupted(self, pids: Iterable[int]) -> set[int]:
        """jids that started in one of ``pids`` and did not end there (running when the
        process died)."""
        dead = set(pids)
        ended = {(r.jid, r.pid) for r in self.ends()}
        return {r.jid for r in self.starts() if r.pid in dead and (r.jid, r.pid) not in ended}

    def first_start_after(self, jids: Iterable[int], moment: float) -> float | None:
        """The earliest start of one of ``jids`` after unix time ``moment``."""
        wanted = set(jids)
        times = [r.time for r in self.starts() if r.jid in wanted and r.time > moment]
        return min(times, default=None)

    def longest_pause(self, jids: Iterable[int], since: float, until: float) -> float | None:
        """The longest time between ``since`` and ``until`` (unix times) in which none of
        ``jids`` started, counting the stretch from ``since`` to the first start; None if none
        started in that window."""
        wanted = set(jids)
        times = sorted(r.time for r in self.starts() if r.jid in wanted and since < r.time)
        times = [t for t in times if t <= until]
        if not times:
            return None
        return max(b - a for a, b in zip([since, *times], times))
