"""Progress slots: what a pool process's slot tells its main process, and their clean-up."""

from __future__ import annotations

import os
import threading

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
    assert progress.known(pid, 9) == (0, "running")  # another chunk: none of it started
    assert progress.known(2**22 + 9, 3) == (0, "unknown")  # no slot: nothing known
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


def test_a_new_process_makes_its_slot_once_whichever_thread_asks_first():
    """A pool process's sandbox starter and its consumer ask for its slot together as it
    starts: both get the one slot (a second making would truncate the file under the first)."""
    pid = os.fork()
    if pid == 0:
        got: list[object] = []
        threads = [
            threading.Thread(target=lambda: got.append(progress.own_slot())) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        os._exit(0 if len(got) == 8 and len({id(slot) for slot in got}) == 1 else 1)
    _, status = os.waitpid(pid, 0)
    progress.discard(pid)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_dead_process_whose_slot_names_no_chunk_started_none():
    """Its slot is cleared once a chunk is reported, and names the next one before any job
    of it starts: a chunk it held then never started."""
    pid = os.fork()
    if pid == 0:
        progress.Slot()
        os._exit(0)
    os.waitpid(pid, 0)
    assert progress.known(pid, 3) == (0, "running")
    progress.discard(pid)
