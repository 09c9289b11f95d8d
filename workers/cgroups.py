"""Pool limits as cgroup v2 controllers, where the host gives the worker a cgroup of its own
(systemd's ``Delegate=yes``, or a root worker on a cgroup v2 host); elsewhere sandboxes
confine themselves with rlimits (picloud.sandbox.confine).

The worker's main process moves itself into ``<its cgroup>/workers`` and enables the memory
and pids controllers below its cgroup (a cgroup with controllers for its children may hold no
process itself); each sandbox then gets ``<its cgroup>/sandbox-<uid>`` with ``memory.max``,
``memory.swap.max`` and ``pids.max`` set, and is moved there before it runs anything. The
kernel kills a job over its memory limit, and ``memory.events`` says so."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("picloud.worker")
ROOT = Path("/sys/fs/cgroup")
_NEEDED = {"memory", "pids"}


def own_cgroup(root: Path = ROOT) -> Path | None:
    """This process's cgroup v2 directory, or None on a host without cgroup v2."""
    if not (root / "cgroup.controllers").exists():
        return None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            return root / line[3:].lstrip("/")
    return None


def delegate(base: Path) -> bool:
    """Make ``base`` ready to hold sandbox cgroups (this process and its siblings moved into
    ``base/workers``, memory and pids enabled for the children); False if it cannot be."""
    try:
        if not _NEEDED <= set((base / "cgroup.controllers").read_text().split()):
            return False
        (base / "workers").mkdir(exist_ok=True)
        for pid in (base / "cgroup.procs").read_text().split():
            _write(base / "workers" / "cgroup.procs", pid)
        _write(base / "cgroup.subtree_control", "+memory +pids")
    except OSError as exc:
        log.info("picloud: sandboxes use rlimits, not cgroups (%s: %s)", base, exc)
        return False
    return True


class SandboxGroup:
    """The cgroup of one sandbox uid."""

    def __init__(self, base: Path, uid: int, memory_mb: int, processes: int) -> None:
        self.path = base / f"sandbox-{uid}"
        self.path.mkdir(exist_ok=True)
        _write(self.path / "memory.max", str(memory_mb << 20))
        _write(self.path / "memory.swap.max", "0")
        _write(self.path / "pids.max", str(processes))
        self._ooms = self.oom_kills()

    def enter(self, pid: int) -> None:
        """Move process ``pid`` (a sandbox not yet running a job) into this cgroup."""
        _write(self.path / "cgroup.procs", str(pid))
        self._ooms = self.oom_kills()

    def oom_kills(self) -> int:
        """How many processes the kernel killed here for going over memory.max."""
        try:
            for line in (self.path / "memory.events").read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def hit_limit(self) -> bool:
        """Whether the memory limit killed something since the sandbox entered."""
        return self.oom_kills() > self._ooms

    def empty(self) -> None:
        """Kill whatever still runs here (``cgroup.kill``, Linux 5.14+)."""
        try:
            _write(self.path / "cgroup.kill", "1")
        except OSError:
            pass


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


_base: Path | None = None
_checked = False


def sandbox_base() -> Path | None:
    """Where this worker's sandbox cgroups go, once its main process delegated (None: use
    rlimits). Set by ``prepare`` in the main process; pool processes inherit it."""
    return _base


def prepare() -> None:
    """In the worker's main process, before it forks its pool: use cgroups if the host has
    them for us (root or delegated), else say rlimits apply."""
    global _base, _checked
    if _checked:
        return
    _checked = True
    own = own_cgroup()
    if own is not None and os.access(own, os.W_OK) and delegate(own):
        _base = own
        log.info("picloud: sandbox limits are cgroup v2 controllers under %s", own)
    else:
        log.info("picloud: sandbox limits are rlimits (no delegated cgroup v2 on this host)")
