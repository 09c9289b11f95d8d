"""Job functions for the fault tests (imported by the workers).

Every job records each of its starts, and each of its ends, as a line ``jid pid time`` in a
file of the test's directory that no worker manages: one ``os.write`` on an ``O_APPEND``
descriptor per line, so lines of concurrent processes never mix."""

from __future__ import annotations

import os
import signal
import time

from picloud import runtime

#: File names (in the test's directory) of the start and end records.
STARTS = "executions"
ENDS = "ends"


def record(directory: str, name: str) -> None:
    """Append ``jid pid time`` to ``directory/name``."""
    line = f"{runtime.job.jid} {os.getpid()} {time.time():.6f}\n".encode()
    descriptor = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def work(directory: str, x: int, seconds: float = 0.02) -> int:
    """Sleep ``seconds``; return ``x * x``."""
    record(directory, STARTS)
    time.sleep(seconds)
    record(directory, ENDS)
    return x * x


def fail(directory: str, message: str) -> None:
    """Raise ValueError(message)."""
    record(directory, STARTS)
    record(directory, ENDS)
    raise ValueError(message)


def kill_own_process(directory: str, x: int, victim: int, seconds: float = 0.02) -> int:
    """``work``, except that row ``victim`` SIGKILLs its own process."""
    record(directory, STARTS)
    if x == victim:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(seconds)
    record(directory, ENDS)
    return x * x


def hold_gil(directory: str, n: int) -> int:
    """``sum(range(n))``: one C call that keeps the GIL until it returns."""
    record(directory, STARTS)
    total = sum(range(n))
    record(directory, ENDS)
    return total


def sum_seconds(n: int) -> float:
    """Seconds ``sum(range(n))`` takes in this process (the fastest of three; not recorded:
    it sizes ``hold_gil``)."""
    timings = []
    for _ in range(3):
        began = time.perf_counter()
        sum(range(n))
        timings.append(time.perf_counter() - began)
    return min(timings)


def own_pid(directory: str, x: int) -> int:
    """The pid of the process that ran the job."""
    record(directory, STARTS)
    record(directory, ENDS)
    return os.getpid()
