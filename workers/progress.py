"""Which job a pool process is running, in a few bytes of shared memory its supervisor reads.

The pool process writes its slot before and after each job (a store into an mmap'd file, no
system call); the worker's main process reads it when that process dies (``workers.request``)
and when it renews chunk leases (``workers.reaper``). So whether a job had started, and which
one was running, is known outside the job's interpreter even if the job held the GIL or its
process was SIGKILLed."""

from __future__ import annotations

import mmap
import os
import tempfile
import threading
import time
from typing import NamedTuple

from picloud.sandbox.slot import DRAIN_OFFSET, FINISHED, IDLE, RUNNING, SIZE
from picloud.sandbox.slot import LAYOUT as _LAYOUT


def slot_dir() -> str:
    """Where slots live: shared memory when the host has it."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    return os.path.join(base, f"picloud-slots-{os.getuid()}")


def slot_path(pid: int) -> str:
    return os.path.join(slot_dir(), f"{pid}.slot")


class Progress(NamedTuple):
    """What a slot says: the chunk (by its first jid), its last started job and its state."""

    first: int
    last_started: int
    state: int


class Slot:
    """This process's slot (made fresh for its pid). Its sandboxes get ``descriptor`` and
    write the job they run into it themselves (picloud.sandbox.serve)."""

    def __init__(self) -> None:
        os.makedirs(slot_dir(), mode=0o700, exist_ok=True)
        self.descriptor = os.open(
            slot_path(os.getpid()), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600
        )
        os.ftruncate(self.descriptor, SIZE)
        self._map = mmap.mmap(self.descriptor, SIZE)
        self.first = 0
        self.pid = os.getpid()

    def begin_chunk(self, first: int) -> None:
        self.first = first
        _LAYOUT.pack_into(self._map, 0, first, 0, IDLE)

    def end_chunk(self) -> None:
        """No chunk runs here now (a chunk's lease that expires then is no longer held)."""
        self.first = 0
        _LAYOUT.pack_into(self._map, 0, 0, 0, IDLE)

    def started(self, jid: int) -> None:
        _LAYOUT.pack_into(self._map, 0, self.first, jid, RUNNING)

    def finished(self, jid: int) -> None:
        _LAYOUT.pack_into(self._map, 0, self.first, jid, FINISHED)

    def draining(self) -> bool:
        """True once the worker shuts down (drain): start no other job."""
        return self._map[DRAIN_OFFSET] != 0

    def drain(self) -> None:
        """This process stops (drain): it and its sandbox start no other job."""
        self._map[DRAIN_OFFSET] = 1

    def now(self) -> tuple[int, int]:
        """(last started jid, state) as written last, by this process or its sandbox."""
        _, last, state = _LAYOUT.unpack_from(self._map, 0)
        return last, state


_own: Slot | None = None
_own_lock = threading.Lock()


def own_slot() -> Slot:
    """This process's slot (made anew in a process forked since; once, whichever of its
    threads asks first: a second making would truncate the file under the first's map)."""
    global _own
    with _own_lock:
        if _own is None or _own.pid != os.getpid():
            _own = Slot()
        return _own


def read(pid: int) -> Progress | None:
    """Process ``pid``'s slot, or None if it has none."""
    try:
        with open(slot_path(pid), "rb") as handle:
            data = handle.read(_LAYOUT.size)
    except OSError:
        return None
    if len(data) < _LAYOUT.size:
        return None
    return Progress(*_LAYOUT.unpack(data))


def drain(pid: int) -> bool:
    """Tell process ``pid`` (and its sandbox) to start no other job; False if it has no slot."""
    try:
        with open(slot_path(pid), "r+b") as handle:
            handle.seek(DRAIN_OFFSET)
            handle.write(b"\x01")
    except OSError:
        return False
    return True


def known(pid: int, first: int) -> tuple[int, str]:
    """(last started jid, 'running' / 'finished') of process ``pid`` in the chunk starting at
    ``first``, as release.lua takes them: (0, 'running') when no job of it started, and
    (0, 'unknown') when the process left no slot. A process names the chunk it took in its
    slot before it starts a job of it: a slot that names none, or the chunk it reported last
    (the next one is taken with that report), says that no job of this one started."""
    found = read(pid)
    if found is None:
        return 0, "unknown"
    if found.first != first or found.state == IDLE:
        return 0, "running"
    return found.last_started, "running" if found.state == RUNNING else "finished"


def prune(older_than: float = 60.0) -> int:
    """Remove the slots of processes that are gone (a process that retired normally leaves
    its slot behind) once they are ``older_than`` seconds old; return how many."""
    removed = 0
    try:
        names = os.listdir(slot_dir())
    except OSError:
        return 0
    now = time.time()
    for name in names:
        pid = name.partition(".")[0]
        path = os.path.join(slot_dir(), name)
        try:
            if not pid.isdigit() or os.path.exists(f"/proc/{pid}"):
                continue
            if now - os.stat(path).st_mtime > older_than:
                os.remove(path)
                removed += 1
        except OSError:
            continue
    return removed


def discard(pid: int) -> None:
    """Remove a dead process's slot."""
    try:
        os.remove(slot_path(pid))
    except OSError:
        pass
