"""Starting and stopping a peer's worker processes (each in a process group of its own)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.services import REPO


def start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``command`` in a new session, run from the repository with ``env`` added, its output to
    ``log``."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), *sys.path]), **env)
    with open(log, "wb") as out:  # the child keeps its own copy
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


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
