"""What one job used, measured in the process that ran it: its peak resident memory and its
CPU seconds in user and system mode (its waited-for children included), as ``info`` shows
them: PiCloud's ``memory``, ``cputime`` and ``cpu_percentage`` groups."""

from __future__ import annotations

import os
import resource
from typing import Any, NamedTuple

_CLEAR_REFS = "/proc/self/clear_refs"
_UNOPENED, _UNAVAILABLE = -2, -1
_getrusage, _SELF, _CHILDREN = resource.getrusage, resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN


class Usage(NamedTuple):
    """One job's figures."""

    #: peak resident memory while the job ran, bytes
    max_rss: int
    #: CPU seconds in user mode
    user: float
    #: CPU seconds in system mode
    system: float


#: A job that ran for less than this (seconds) is not measured on its own, the two syscalls
#: would cost more than it did: it reports the peak measured last and no CPU time, and its CPU,
#: well below a clock tick, goes to the next job measured after it.
QUICK_JOB = 1e-4


class Meter:
    """Measures the job between ``start`` and ``stop`` (a few microseconds each: the peak is
    the kernel's high-water mark, reset through Linux's clear_refs before a job when the last
    one raised it: otherwise it still is the process's size before the job)."""

    def __init__(self) -> None:
        self._times = os.times()
        self._refs = _UNOPENED
        #: the peak after the last reset, and whether a job raised it since
        self._floor = 0
        self._raised = True
        #: the peak measured last (KiB)
        self._peak = 0

    def _reset_peak(self) -> None:
        """Start the resident high-water mark over from the current size, so a reused process
        measures each job on its own (no-op where the kernel cannot)."""
        if self._refs == _UNOPENED:  # opened by the process it measures: make a Meter there
            try:
                self._refs = os.open(_CLEAR_REFS, os.O_WRONLY | os.O_CLOEXEC)
            except OSError:
                self._refs = _UNAVAILABLE
        if self._refs >= 0:
            try:
                os.write(self._refs, b"5")
            except OSError:
                self._refs = _UNAVAILABLE

    def start(self, follows: bool = False) -> None:
        """Begin a job's measure. ``follows``: it is not the first of its batch, so it starts
        right after the job last stopped, whose end reading serves as its start (a syscall
        less a job; what ran between the two, microseconds, is charged to it: CPU times count
        in clock ticks anyway)."""
        if self._raised:  # the last job set a new peak: measure this one from its own start
            self._reset_peak()
            self._floor = self._peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self._raised = False
        if not follows:
            self._times = os.times()

    def stop(self, took: float) -> Usage:
        """What the job that ran ``took`` seconds used (see QUICK_JOB)."""
        if took < QUICK_JOB and self._peak:
            return Usage(self._peak * 1024, 0.0, 0.0)
        now, then = os.times(), self._times
        self._times = now
        user = now[0] - then[0] + now[2] - then[2]
        system = now[1] - then[1] + now[3] - then[3]
        peak = _getrusage(_SELF).ru_maxrss
        if peak > self._floor:
            self._raised = True
        if now[2] != then[2] or now[3] != then[3]:  # it waited for children: one may be larger
            peak = max(peak, _getrusage(_CHILDREN).ru_maxrss)
        self._peak = peak
        return Usage(peak * 1024, user if user > 0 else 0.0, system if system > 0 else 0.0)


def over_limit(jid: int, pool: str, memory_mb: int) -> str:
    """How a job that exceeded its pool's memory limit ends."""
    return f"job {jid} exceeded pool {pool}'s memory limit ({memory_mb} MB)"


def info_groups(usage: Usage | None, runtime: float | None, limit_hit: bool) -> dict[str, Any]:
    """The ``memory``, ``cputime`` and ``cpu_percentage`` info groups of a finished job (None
    values when it was not measured); ``limit_hit``: it exceeded its pool's memory limit."""
    if usage is None:
        return {"memory": None, "cputime": None, "cpu_percentage": None}
    wall = runtime or 0.0
    return {
        "memory": {"max_usage": usage.max_rss, "usage": None, "failcnt": int(limit_hit)},
        "cputime": {"user": usage.user, "system": usage.system},
        "cpu_percentage": {
            "user": 100.0 * usage.user / wall if wall > 0 else None,
            "system": 100.0 * usage.system / wall if wall > 0 else None,
        },
    }


def requested(groups: dict[str, Any], fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The info fields among ``fields`` that name a group (``memory``) or one of its values
    (``memory.max_usage``, also answered nested as ``{'memory': {'max_usage': ...}}``)."""
    out: dict[str, Any] = {}
    for field in fields:
        group, _, item = field.partition(".")
        if group not in groups:
            continue
        values = groups[group]
        if not item:
            out[field] = values
            continue
        value = values.get(item) if isinstance(values, dict) else None
        out[field] = value
        nested = out.setdefault(group, {}) if group not in fields else None
        if isinstance(nested, dict):
            nested[item] = value
    return out
