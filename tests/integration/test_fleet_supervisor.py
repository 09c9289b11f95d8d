"""The fleet's supervisor with tiny shell commands: a process that exits is restarted after a
doubling backoff (what it left behind goes first), the others are untouched, stop() ends all."""

from __future__ import annotations

import io
import re
import time

from picloud.fleet.supervisor import Backoff, Supervisor, group_alive
from tests.services import wait_until


def test_restarts_with_backoff_leaves_the_others_and_stops_all() -> None:
    output = io.StringIO()
    supervisor = Supervisor(
        {
            "steady": "echo up; sleep 60 & exec sleep 61",  # two processes in its group
            "crash": "sleep 60 & exit 3",  # dies at once, leaving a child behind
            "slow": "sleep 0.4; exit 4",  # dies after staying up past reset_after
            "stubborn": "trap '' TERM; sleep 60",  # ignores SIGTERM
        },
        output=output,
        backoff=Backoff(first=0.2, longest=0.8, reset_after=0.3),
        stop_timeout=1.0,
    )
    began = time.monotonic()
    supervisor.start()
    try:
        steady = supervisor.pids()["steady"]
        while output.getvalue().count("crash restarted") < 4:  # the fifth start
            assert time.monotonic() - began < 10, output.getvalue()
            supervisor.poll()
            assert supervisor.pids().get("steady", steady) == steady
            time.sleep(0.02)
        log = output.getvalue()
        assert supervisor.pids()["steady"] == steady, log
        assert re.search(r"^\d\d:\d\d:\d\d steady\s+\| up$", log, re.M), log

        # crash: restarted after 0.2, 0.4, 0.8, 0.8 s (not at every poll), its leftovers gone
        delays = re.findall(r"crash exited \(rc 3\) after \S+ s; restarting it in (\S+) s", log)
        assert delays == ["0.2", "0.4", "0.8", "0.8"], log
        assert time.monotonic() - began >= 2.2, log
        crash_groups = [int(pid) for pid in re.findall(r"crash (?:re)?started \(pid (\d+)", log)]
        for group in crash_groups[:-1]:
            wait_until(lambda: not group_alive(group), 2, f"crash's old process group {group}")
        # slow stayed up longer than reset_after: always the first delay
        slow = re.findall(r"slow exited \(rc 4\) after \S+ s; restarting it in (\S+) s", log)
        assert slow and set(slow) == {"0.2"}, log
    finally:
        groups = list(supervisor.pids().values())
        started = time.monotonic()
        supervisor.stop()
        took = time.monotonic() - started
    log = output.getvalue()
    assert supervisor.pids() == {}
    assert not any(map(group_alive, groups)), log
    assert "sent SIGKILL to stubborn" in log and "sent SIGKILL to steady" not in log, log
    assert 0.9 < took < 3, log
