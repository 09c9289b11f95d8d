"""A supervisor for the Procfile's processes: it restarts whichever one exits and leaves the
others alone.

Written by hand because honcho's ``Manager`` stops every process as soon as one of them exits,
so one dead worker took the whole fleet down. This keeps honcho's look (its ``Printer`` and
colours: ``12:00:01 c1     | line``) and its way of running a command (``/bin/sh -c``, each in a
session and process group of its own), and adds restarts with a backoff: 1 s after the first
exit, doubling up to 30 s while a process keeps dying, back to 1 s once it stayed up 60 s.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import IO

from honcho.colour import get_colours
from honcho.printer import Message, Printer

SYSTEM = "system"


@dataclass(frozen=True)
class Backoff:
    """How long to wait before restarting a process that exited."""

    first: float = 1.0
    longest: float = 30.0
    reset_after: float = 60.0  # up this long: the next exit waits ``first`` again


@dataclass
class _Process:
    name: str
    command: str
    colour: str
    delay: float  # the wait before the next restart
    popen: subprocess.Popen[bytes] | None = None
    group: int | None = None  # the process group of the latest start, until it is empty
    started: float = 0.0
    restart_at: float | None = None


class Supervisor:
    """Runs named shell commands, each in its own process group, prefixing their output with
    their name and the time; restarts one that exits, after a backoff; ``stop`` ends them all."""

    def __init__(
        self,
        commands: Mapping[str, str],
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        output: IO[str] | None = None,
        backoff: Backoff = Backoff(),
        stop_timeout: float = 10.0,
    ) -> None:
        colours = get_colours()
        self.processes = {
            name: _Process(name, command, next(colours), backoff.first)
            for name, command in commands.items()
        }
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.backoff = backoff
        self.stop_timeout = stop_timeout
        width = max(map(len, [SYSTEM, *commands]))
        self._printer = Printer(output or sys.stdout, width=width)
        self._printing = threading.Lock()
        self._relays: list[threading.Thread] = []

    def pids(self) -> dict[str, int]:
        """name -> pid of each process running now."""
        return {
            p.name: p.popen.pid
            for p in self.processes.values()
            if p.popen and p.popen.poll() is None
        }

    def start(self) -> None:
        """Start every process."""
        for process in self.processes.values():
            self._spawn(process)

    def poll(self) -> None:
        """Notice the processes that exited, and restart those whose backoff is over."""
        now = time.monotonic()
        for process in self.processes.values():
            if process.popen is not None and process.popen.poll() is not None:
                self._exited(process, process.popen.returncode, now)
            elif process.restart_at is not None and now >= process.restart_at:
                self._spawn(process)

    def stop(self) -> None:
        """SIGTERM every process group, SIGKILL those still there after ``stop_timeout``."""
        for process in self.processes.values():
            process.restart_at = None
            if _signal_group(process.group, signal.SIGTERM):
                self._log(f"sent SIGTERM to {process.name} (process group {process.group})")
        deadline = time.monotonic() + self.stop_timeout
        while self._groups_left() and time.monotonic() < deadline:
            time.sleep(0.05)
        for process in self._groups_left():
            _signal_group(process.group, signal.SIGKILL)
            self._log(f"sent SIGKILL to {process.name} (process group {process.group})")
        for process in self.processes.values():
            if process.popen is not None:
                process.popen.wait()
            process.popen, process.group = None, None
        for relay in self._relays:  # the last lines of output
            relay.join(timeout=1)

    def run(self, tick: float = 0.1) -> int:
        """Start everything, supervise until SIGINT or SIGTERM, then stop everything; return
        that signal's number."""
        received: list[int] = []

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            received.append(signum)

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not received:
                self.poll()
                time.sleep(tick)
            self._log(f"{signal.Signals(received[0]).name} received, stopping")
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return received[0]

    def _spawn(self, process: _Process) -> None:
        _signal_group(process.group, signal.SIGKILL)  # what the last one left (SIGTERMed then)
        popen = subprocess.Popen(
            ["/bin/sh", "-c", process.command],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._log(
            f"{process.name} {'restarted' if process.started else 'started'} (pid {popen.pid})"
        )
        process.popen, process.group = popen, popen.pid
        process.started, process.restart_at = time.monotonic(), None
        relay = threading.Thread(target=self._relay, args=(process, popen), daemon=True)
        relay.start()
        self._relays = [*filter(threading.Thread.is_alive, self._relays), relay]

    def _exited(self, process: _Process, returncode: int, now: float) -> None:
        if now - process.started >= self.backoff.reset_after:
            process.delay = self.backoff.first
        delay, process.delay = process.delay, min(process.delay * 2, self.backoff.longest)
        process.popen, process.restart_at = None, now + delay
        _signal_group(process.group, signal.SIGTERM)  # its children, if any, go before the restart
        self._log(
            f"{process.name} exited ({_status(returncode)}) after {now - process.started:.1f} s;"
            f" restarting it in {delay:g} s"
        )

    def _groups_left(self) -> list[_Process]:
        """The processes whose group still has a member (reaping the exited leaders)."""
        left = []
        for process in self.processes.values():
            if process.popen is not None and process.popen.poll() is None:
                left.append(process)
            elif group_alive(process.group):
                left.append(process)
            else:
                process.group = None
        return left

    def _relay(self, process: _Process, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None
        with popen.stdout:
            for line in iter(popen.stdout.readline, b""):
                self._print(process.name, line, process.colour)

    def _log(self, text: str) -> None:
        self._print(SYSTEM, text, None)

    def _print(self, name: str, data: str | bytes, colour: str | None) -> None:
        message = Message("line", data, datetime.datetime.now(), name, colour)
        with self._printing:
            self._printer.write(message)


def _status(returncode: int) -> str:
    """How a process ended, from its return code (a shell's is 128 + the signal's number)."""
    if returncode < 0:
        return f"killed by {_signal_name(-returncode)}"
    if returncode > 128:
        return f"rc {returncode} = 128 + {_signal_name(returncode - 128)}"
    return f"rc {returncode}"


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def group_alive(group: int | None) -> bool:
    """Whether a process group has a member that is not a zombie. (``sh -c`` leaves its command
    orphaned when it dies first, and an orphan's zombie waits for init, which may be lazy.)"""
    if not _signal_group(group, 0):
        return False
    if not os.path.isdir("/proc/self"):  # not Linux: a zombie counts
        return True
    with os.scandir("/proc") as entries:
        for entry in entries:
            try:
                with open(f"{entry.path}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == group and fields[0] not in (b"Z", b"X"):
                return True
    return False


def _signal_group(group: int | None, signum: int) -> bool:
    """Send ``signum`` to a process group; whether the group still exists."""
    if not group:  # never 0: that would be our own group
        return False
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
