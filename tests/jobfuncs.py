"""Module-level job functions shared by the tests (importable by workers), and test helpers.

Jobs that must stay running until the test says so wait on a *gate*: a file the test creates.
Tests wait on conditions with ``wait_for``, never with bare sleeps."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Longest a gated job waits for its gate before giving up (keeps a broken test from hanging).
GATE_TIMEOUT = 60.0
_POLL = 0.005


# --- helpers for tests ------------------------------------------------------------------------
def wait_for(
    predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition", interval=_POLL
) -> T:
    """Poll ``predicate`` until it returns something truthy and return that; fail the test if
    ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def wait_status(cloud: Any, jid: int, status: str, timeout: float = 10.0) -> None:
    """Wait until job ``jid`` has ``status``."""
    seen: list[str] = []

    def reached() -> bool:
        seen.append(cloud.status(jid))
        return seen[-1] == status

    try:
        wait_for(reached, timeout, f"job {jid} to be {status}")
    except AssertionError as exc:
        raise AssertionError(f"{exc} (last status {seen[-1]!r})") from None


def process_gone(pid: int) -> bool:
    """True when process ``pid`` no longer runs (absent, or a zombie not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True  # reaped between the two looks: reading its stat then fails with ESRCH


class Gate:
    """A file a job waits for; the test opens the gate by creating it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def open(self) -> None:
        with open(self.path, "w"):
            pass

    def __repr__(self) -> str:
        return f"Gate({self.path!r})"


def read_when_written(path: str, timeout: float = 10.0) -> str:
    """The content of ``path`` once a job has written it (complete, i.e. ending in a newline)."""

    def content() -> str | None:
        try:
            with open(path) as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        return text if text.endswith("\n") else None

    return wait_for(content, timeout, f"{path} to be written").strip()


# --- job functions ----------------------------------------------------------------------------
def write_cloud_file(name, data):
    """Store ``data`` as the job's key's file ``name``; return its size."""
    import cloud

    cloud.files.putf(data, name)
    return len(data)


def mark_cron_run():
    """A cron's function: store a file saying when it ran."""
    import time

    import cloud

    cloud.files.putf(str(time.time()).encode(), "cron-ran")


def read_cloud_file(name):
    """The content of the job's key's file ``name``."""
    import cloud

    return cloud.files.getf(name).read()


def square(x):
    return x * x


def add(a, b=0):
    return a + b


def multiply(x, y):
    return x * y


def identity(*args, **kwargs):
    return args, kwargs


def pair(x, y):
    return (x, y)


def raise_value_error(message="boom"):
    raise ValueError(message)


def wait_then_raise(path, message="boom"):
    """Wait for the gate ``path``, then fail."""
    wait_for_file(path)
    raise ValueError(message)


def text_or_raise(x):
    """'y' * x, 100 KB of it for 1; ValueError('three') for 3."""
    if x == 3:
        raise ValueError("three")
    return "y" * (100_000 if x == 1 else x)


def raise_if_odd(x):
    if x % 2:
        raise ValueError(f"odd {x}")
    return x


def sleep_then_return(seconds, value=None):
    time.sleep(seconds)
    return value


def wait_for_file(path, value=None, timeout=GATE_TIMEOUT):
    """Block until ``path`` exists, then return ``value``."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {path} never opened")
        time.sleep(_POLL)
    return value


def touch_then_return(path, value=None):
    """Leave a marker that this job ran."""
    with open(path, "w") as handle:
        handle.write("ran\n")
    return value


def print_and_wait_for_file(text, path, err_text=None):
    """Print ``text`` (and ``err_text`` to stderr), flush, then wait for the gate ``path``."""
    print(text, flush=True)
    if err_text is not None:
        print(err_text, file=sys.stderr, flush=True)
    return wait_for_file(path, "released")


def print_text(text, err_text=None):
    print(text)
    if err_text is not None:
        print(err_text, file=sys.stderr)
    return text


def print_lots(chars):
    """Write ``chars`` characters to stdout: digits 0-9 repeated, then a final 'END'."""
    body = "0123456789" * (chars // 10)
    sys.stdout.write(body + "END")
    return len(body) + 3


def return_pid(*_ignored):
    return os.getpid()


def write_pid_and_wait(pid_path, gate_path, timeout=GATE_TIMEOUT):
    """Write this process's pid to ``pid_path`` then wait for the gate. The file is replaced,
    not rewritten: a run again may be in a sandbox of another uid than the first run's."""
    written = f"{pid_path}.{os.getpid()}"
    with open(written, "w") as handle:
        handle.write(f"{os.getpid()}\n")
    os.replace(written, pid_path)
    return wait_for_file(gate_path, os.getpid(), timeout)


def env_lookup(*names):
    return [os.environ.get(name) for name in names]


def started_at(label, hold=0.3):
    """Return (label, the time this job started) after holding its worker ``hold`` seconds."""
    start = time.time()
    time.sleep(hold)
    return label, start


def running_on_cloud_inside():
    import picloud

    return picloud.running_on_cloud()


def return_lock():
    return threading.Lock()


def return_lambda():
    return lambda: 42


def _fib(n):
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


def profiled_work(n):
    return _fib(n)


def sleep_forever(timeout=200.0):
    """Keep running until killed (gives up after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return "not killed"


def _refuse_to_load():
    raise ValueError("this object cannot be loaded outside a worker")


class _Unloadable:
    def __reduce__(self):
        return (_refuse_to_load, ())


def make_unloadable_result():
    return _Unloadable()


def spin_cpu(seconds: float) -> int:
    """Burn CPU in user mode for about ``seconds``; return the loops run."""
    loops = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        loops += 1
    return loops


def hold_memory(megabytes: int) -> int:
    """Touch ``megabytes`` of fresh memory; return how many bytes."""
    block = bytearray(megabytes << 20)
    block[::4096] = b"x" * len(block[::4096])
    return len(block)


def fan_out(n: int) -> list[int]:
    """A job that maps ``square`` over ``range(n)`` itself and returns the results."""
    import cloud

    return cloud.result(cloud.map(square, range(n)))


def wait_on_inner_job(value: int) -> int:
    """A job that waits on a job of its own pool (a dead-lock when every worker does this)."""
    import cloud

    return cloud.result(cloud.call(square, value))
