"""Each fault test's figures, printed by the test and gathered into one table for the session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class Figures:
    """What one fault test measured. ``reruns`` = executions - distinct jids that ran;
    ``lost`` = jids not terminal at the deadline; ``recovery`` = seconds from the fault until
    the jobs were moving again (what exactly: the test's docstring)."""

    id: str
    scenario: str
    #: the test's parameters (``small``, ``full-shutdown``…)
    size: str = ""
    jobs: int = 0
    executions: int = 0
    reruns: int = 0
    lost: int = 0
    processing: int = 0
    errors: int = 0
    recovery: float | None = None
    notes: dict[str, object] = field(default_factory=dict)
    passed: bool | None = None

    def count(self, executions: Counter[int], statuses: Mapping[int, str]) -> None:
        """Fill jobs, executions, re-runs, lost, processing and errors."""
        self.jobs = len(statuses)
        self.executions = sum(executions.values())
        self.reruns = self.executions - len(executions)
        self.lost = sum(s not in TERMINAL for s in statuses.values())
        self.processing = sum(s == "processing" for s in statuses.values())
        self.errors = sum(s == "error" for s in statuses.values())

    def line(self) -> str:
        recovery = "-" if self.recovery is None else f"{self.recovery:.1f}"
        verdict = {True: "pass", False: "FAIL", None: "?"}[self.passed]
        notes = " ".join(f"{k}={v}" for k, v in self.notes.items())
        return (
            f"{self.id:<4} {self.scenario:<44} {self.size:<14} {self.jobs:>5} {self.executions:>6} "
            f"{self.reruns:>7} {self.lost:>5} {self.processing:>5} {self.errors:>6} "
            f"{recovery:>10} {verdict:>5}  {notes}"
        )


TERMINAL = frozenset({"done", "error", "killed", "stalled"})
HEADER = (
    f"{'ID':<4} {'scenario':<44} {'size':<14} {'jobs':>5} {'execs':>6} {'re-runs':>7} {'lost':>5} "
    f"{'proc':>5} {'errors':>6} {'recovery s':>10} {'pass':>5}  notes"
)

#: test node id -> its figures, in the order the tests reported them.
RECORDED: dict[str, Figures] = {}


def table() -> list[str]:
    """The session's figures as lines of one table, sorted by test ID."""
    rows = sorted(RECORDED.values(), key=lambda f: (int(f.id[1:]), f.size))
    return [HEADER, *(f.line() for f in rows)]
