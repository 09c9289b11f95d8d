"""Progress slots: what a pool process's slot tells its main process, and their clean-up."""

from __future__ import annotations

import os

from workers import progress


def _dead_process_slot() -> int:
    """The pid of a process that wrote a slot (chunk 3, job 5 running) and exited."""
    pid = os.fork()
    if pid == 0:
        slot = progress.Slot()
        slot.begin_chunk(3)
        slot.started(5)
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_a_dead_process_slot_says_which_job_was_running():
    pid = _dead_process_slot()
    assert progress.known(pid, 3) == (5, "running")
    assert progress.known(pid, 9) == (0, "unknown")  # another chunk: nothing known of it
    progress.discard(pid)
    assert progress.read(pid) is None


def test_prune_removes_only_the_slots_of_processes_that_are_gone():
    dead = _dead_process_slot()
    mine = progress.Slot()
    mine.begin_chunk(7)
    progress.prune(older_than=60)
    assert progress.read(dead) is not None  # too young: its main process may read it yet
    assert progress.prune(older_than=0) >= 1
    assert progress.read(dead) is None
    assert progress.known(os.getpid(), 7) == (0, "running")  # alive, nothing started: kept
    progress.discard(os.getpid())
