"""A supervisor's sandboxes (workers.sandboxes.Keeper) when one is killed as it starts: it is
started again, still confined; only the sandbox saying its private mounts failed makes the
process give them up (a death must not: on a host whose Python lives under /root, a sandbox
without them cannot even import its own modules)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator

import pytest

from workers import sandboxes
from workers.pools import POOLS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: sandboxes switch uids")


@pytest.fixture
def killed_starts(monkeypatch) -> Iterator[list[int]]:
    """Make the next sandboxes die (SIGKILL) as soon as they are started: set the count in the
    list's first item; the pids killed are appended."""
    plan = [0]
    real = subprocess.Popen

    def popen(command, *args, **kwargs):
        process = real(command, *args, **kwargs)
        if "picloud.sandbox" in command and plan[0] > 0:
            plan[0] -= 1
            os.kill(process.pid, signal.SIGKILL)
            plan.append(process.pid)
        return process

    monkeypatch.setattr(sandboxes.subprocess, "Popen", popen)
    yield plan


def _keeper(plan: list[int], deaths: int) -> sandboxes.Keeper:
    plan[0] = deaths
    return sandboxes.Keeper(POOLS["c1"])


def test_a_sandbox_killed_as_it_starts_is_started_again_confined(killed_starts):
    keeper = _keeper(killed_starts, 1)
    try:
        sandbox = keeper.for_key("1001")
        assert sandbox.alive and sandbox.pid not in killed_starts[1:]
        assert len(killed_starts) == 2, "the test killed no sandbox: it is itself broken"
        assert keeper.private_mounts and sandbox.private_mounts
    finally:
        keeper.close()


def test_sandboxes_that_keep_dying_are_an_error_not_a_loss_of_confinement(killed_starts):
    keeper = _keeper(killed_starts, sandboxes.START_ATTEMPTS)
    try:
        with pytest.raises(sandboxes.SandboxError, match="could not be set up"):
            keeper.for_key("1001")
        assert len(killed_starts) == 1 + sandboxes.START_ATTEMPTS
        assert keeper.private_mounts, "a killed sandbox made the process drop private mounts"
        assert keeper.for_key("1001").private_mounts  # the next start works, confined
    finally:
        keeper.close()
