"""Starting and stopping a peer's worker processes (each in a process group of its own)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.services import REPO, spawn


def start(
    command: list[str], log: Path, env: dict[str, str], clean: bool = False
) -> subprocess.Popen[bytes]:
    """``command`` in a new session, run from the repository with ``env`` added (``clean``:
    without this process's PICLOUD_* and DJANGO_* variables), its output to ``log``."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not (clean and name.startswith(("PICLOUD_", "DJANGO_")))
    }
    path = os.pathsep.join([str(REPO), *sys.path])
    return spawn(command, log, {**inherited, "PYTHONPATH": path, **env})


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the process's whole group: SIGTERM, then SIGKILL after 15 s."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # children left behind
        os.killpg(process.pid, signal.SIGKILL)


def marked(name: str, value: str) -> list[int]:
    """pids of the processes whose environment has ``name=value`` (all a fleet started)."""
    marker, found = f"{name}={value}".encode(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def group_of(pid: int) -> int | None:
    """Process ``pid``'s process group, or None when it is gone."""
    try:
        return os.getpgid(pid)
    except OSError:
        return None
