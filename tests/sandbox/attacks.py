"""What a hostile job tries from inside its sandbox (imported by the workers). Each returns
what it found or what stopped it, for the test to judge."""

from __future__ import annotations

import os
import signal
import socket
import time

import cloud

#: Files and folders a job could hope to find the broker's URL or password in.
SEARCHED = ("/root", "/home", "/etc/picloud", "/tmp", "/var/tmp", "/dev/shm")
#: Python's own files (no secret lives there, and there are thousands).
_SKIPPED = ("/.pyenv/", "/site-packages/")


def _read(path: str, limit: int = 1 << 20) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def everything_readable(extra: list[str]) -> str:
    """All this job can read that might hold a secret: its environment, picloud's settings,
    every process's environ and command line, the files under the usual places and the
    worker's own configuration folder ``extra`` (told by the test)."""
    from picloud import broker, config

    found = [repr(sorted(os.environ.items()))]
    settings = config.current()
    found += [settings.broker_url, settings.s3_secret_key, settings.api_secretkey]
    found.append(broker.configured_broker_url() or "")
    found.append(repr(broker.running_fleet_credentials()))
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            found += [_read(f"/proc/{pid}/environ"), _read(f"/proc/{pid}/cmdline")]
    found += [_read(f"/proc/{os.getppid()}/environ"), _read(f"/proc/{os.getppid()}/cmdline")]
    for top in (*SEARCHED, *extra):
        for folder, _, names in os.walk(top):
            if any(part in folder + "/" for part in _SKIPPED):
                continue
            for name in names[:200]:
                found.append(_read(os.path.join(folder, name), 1 << 16))
    return "\n".join(found)


def open_descriptors() -> list[str]:
    """What each of this process's descriptors points at."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.append(f"{fd} {os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:
            pass
    return out


def unix_peers() -> int:
    """How many of this process's descriptors are sockets other than its channel (fd 3+)."""
    return sum("socket:" in line for line in open_descriptors())


def redis_without_password(port: int) -> str:
    """The broker's answer to a client that gives no password."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n")
        time.sleep(0.2)
        return conn.recv(4096).decode("utf-8", "replace")


def signal_processes(pids: list[int]) -> list[str]:
    """Try to SIGKILL each pid (the supervisor, the worker); what happened to each."""
    out = []
    for pid in [os.getppid(), *pids]:
        try:
            os.kill(pid, signal.SIGKILL)
            out.append(f"{pid} killed")
        except OSError as exc:
            out.append(f"{pid} {type(exc).__name__}")
    return out


def identity() -> tuple[int, int, int]:
    """(pid, uid, euid) of the process the job runs in."""
    return os.getpid(), os.getuid(), os.geteuid()


def leave_a_secret(name: str, text: str) -> str:
    """Store ``text`` as the file ``name`` of this job's key, and return it."""
    cloud.files.putf(text, name)
    return text


def try_to_read(name: str, jid: int) -> dict[str, str]:
    """Reach another key's file and job through the cloud API, by name and by jid."""
    out: dict[str, str] = {"files": repr(cloud.files.list())}
    for label, attempt in (
        ("get", lambda: cloud.files.getf(name).read()),
        ("traversal", lambda: cloud.files.getf(f"../1001/{name}").read()),
        ("result", lambda: cloud.result(jid, timeout=5)),
        ("info", lambda: cloud.info(jid, ["stdout", "args"])),
        ("status", lambda: cloud.status(jid)),
        ("kill", lambda: cloud.kill(jid)),
    ):
        try:
            out[label] = f"GOT {attempt()!r}"
        except Exception as exc:
            out[label] = f"{type(exc).__name__}: {exc}"
    return out


def fan_out(n: int) -> tuple[list[int], list[int]]:
    """Submit ``n`` jobs from inside this job and wait for them (a PiCloud pattern)."""
    jids = cloud.map(pow, range(n), [2] * n)
    return list(jids), cloud.result(jids, timeout=60)


def fork_many(n: int) -> int:
    """Start ``n`` sleeping children; return how many started before the limit said no."""
    started = 0
    for _ in range(n):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        started += 1
    return started


def children_left() -> int:
    """Processes this sandbox still has (left by an earlier job)."""
    path = f"/proc/{os.getpid()}/task/{os.getpid()}/children"
    return len(_read(path).split())


def hold_the_gil(seconds: float) -> int:
    """One C call that does not return for about ``seconds`` (no Python code runs)."""
    return sum(range(int(seconds * 3e7)))
