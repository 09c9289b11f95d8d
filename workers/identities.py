"""Which uid a sandbox runs as.

A worker running as root gives every sandbox of the host a uid of its own, from the settings
``sandbox_uid`` to ``sandbox_uid + sandbox_uids - 1`` (no passwd entry is needed): an flock on
``<uid>.lock`` in a root-only directory says which are taken, and the kernel releases it when
its holder dies. So jobs of two keys never share a uid (they cannot signal, trace or read each
other), and before a uid serves again every process left running as it is killed.

A worker that is not root cannot change uids: its sandboxes run as its own uid (the README
says what that leaves open)."""

from __future__ import annotations

import fcntl
import os
import signal
import tempfile
from dataclasses import dataclass

from picloud import config
from picloud.exceptions import CloudException


def lock_dir() -> str:
    base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    return os.path.join(base, f"picloud-uids-{os.getuid()}")


@dataclass
class Identity:
    """A uid (and gid) a sandbox runs as; ``lock`` holds it while this process lives."""

    uid: int
    gid: int
    lock: int | None = None

    @property
    def switched(self) -> bool:
        """True when sandboxes run as another uid than their supervisor."""
        return self.uid != os.getuid()


def claim() -> Identity:
    """A uid no other sandbox of this host holds (this process's own when it is not root),
    with every process still running as it killed."""
    if os.geteuid() != 0:
        return Identity(os.getuid(), os.getgid())
    settings = config.current()
    first, count = settings.sandbox_uid, settings.sandbox_uids
    if first == 0:
        raise CloudException("setting sandbox_uid must not be 0: jobs must not run as root")
    os.makedirs(lock_dir(), mode=0o700, exist_ok=True)
    for uid in range(first, first + count):
        descriptor = os.open(os.path.join(lock_dir(), f"{uid}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        kill_all(uid)
        return Identity(uid, uid, descriptor)
    raise CloudException(
        f"every sandbox uid from {first} to {first + count - 1} is taken on this host: raise "
        "the setting sandbox_uids"
    )


def release(identity: Identity) -> None:
    """Give the uid back (after killing what still runs as it)."""
    if identity.lock is None:
        return
    kill_all(identity.uid)
    os.close(identity.lock)
    identity.lock = None


def kill_all(uid: int) -> int:
    """SIGKILL every process whose real uid is ``uid``; return how many (never this
    process's own uid)."""
    if uid == os.getuid():
        return 0
    killed = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"Uid:"):
                        owner = int(line.split()[1])
                        break
                else:
                    continue
            if owner == uid:
                os.kill(int(name), signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            continue
    return killed
