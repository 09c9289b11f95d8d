"""The few bytes of shared memory that say which job runs: written by a sandbox before and
after each job (a store, no system call), read by its supervisor and by the worker's main
process (workers.progress), which hand on a dead process's jobs by what it says. Its last
byte is the worker's: set when the worker shuts down, the sandbox starts no further job."""

from __future__ import annotations

import mmap
import struct

#: The whole slot: the chunk's first jid (the supervisor's), last started jid, state.
LAYOUT = struct.Struct("<qqb")
#: The part a sandbox writes, at JOB_OFFSET: last started jid, state.
JOB_LAYOUT = struct.Struct("<qb")
JOB_OFFSET = 8
#: The drain flag's offset (the byte after LAYOUT) and the slot's whole size.
DRAIN_OFFSET = LAYOUT.size
SIZE = LAYOUT.size + 1
IDLE, RUNNING, FINISHED = 0, 1, 2


class JobSlot:
    """A sandbox's view of its supervisor's slot (the descriptor it was given)."""

    def __init__(self, descriptor: int) -> None:
        self._map = mmap.mmap(descriptor, SIZE)

    def started(self, jid: int) -> None:
        JOB_LAYOUT.pack_into(self._map, JOB_OFFSET, jid, RUNNING)

    def finished(self, jid: int) -> None:
        JOB_LAYOUT.pack_into(self._map, JOB_OFFSET, jid, FINISHED)

    def draining(self) -> bool:
        """True once the worker shuts down: start no other job."""
        return self._map[DRAIN_OFFSET] != 0
