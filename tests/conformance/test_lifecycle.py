"""Job statuses and their transitions, kill and delete (compat notes section 1)."""

from __future__ import annotations

import os
import time

import pytest

from picloud.exceptions import CloudException, NoSuchJobError
from tests import jobfuncs as jf
from tests.conftest import NUM_PROCS
from tests.jobfuncs import process_gone, read_when_written, wait_for, wait_status

#: The transitions the compat notes allow (besides staying put).
ALLOWED = {
    "waiting": {"stalled", "killed", "queued", "processing", "done", "error"},
    "queued": {"killed", "processing", "done", "error"},
    "processing": {"killed", "error", "done"},
    "done": set(),
    "error": set(),
    "killed": set(),
    "stalled": set(),
}
# Polling may miss a short-lived status, so a skip along the lifecycle's path is allowed
# (waiting -> queued -> processing -> done/error), never a move backwards or out of a
# terminal status.


def fill_workers(cloud, gates, name="busy"):
    """Occupy every worker with a job waiting on one gate; return (gate, jids)."""
    gate = gates(name)
    jids = [cloud.call(jf.wait_for_file, gate.path, i) for i in range(NUM_PROCS)]
    for jid in jids:
        wait_status(cloud, jid, "processing")
    return gate, jids


def record_statuses(cloud, jids, timeout=20.0, interval=0.005, before=None):
    """Poll until every job has finished; return each job's sequence of distinct statuses
    (starting with ``before``, the statuses seen just before what lets the jobs go on: over
    HTTP the first poll after it may come too late to see them)."""
    history = {jid: [] for jid in jids}
    for jid, status in zip(jids, before or ()):
        history[jid].append(status)

    def all_finished():
        for jid, status in zip(jids, cloud.status(list(jids))):
            if not history[jid] or history[jid][-1] != status:
                history[jid].append(status)
        return all(h[-1] in ("done", "error", "killed", "stalled") for h in history.values())

    wait_for(all_finished, timeout, "every job to finish", interval)
    return history


def assert_lifecycle(history):
    for jid, statuses in history.items():
        for before, after in zip(statuses, statuses[1:]):
            assert after in ALLOWED[before], f"job {jid}: {before} -> {after} in {statuses}"


def test_each_status_and_transition(cloud, gates):
    gate, busy = fill_workers(cloud, gates)
    assert cloud.status(busy) == ["processing"] * NUM_PROCS
    waiting = cloud.call(jf.square, 3, _depends_on=busy[0])
    queued = cloud.call(jf.square, 4)
    failing = cloud.call(jf.raise_value_error, "no")
    stalled = cloud.call(jf.square, 5, _depends_on=failing)
    assert cloud.status(waiting) == "waiting"
    assert cloud.status(queued) == "queued"
    assert cloud.status(failing) == "queued"
    assert cloud.status(stalled) == "waiting"
    killed = cloud.call(jf.square, 6)
    cloud.kill(killed)
    wait_status(cloud, killed, "killed")
    jids = [*busy, waiting, queued, failing, stalled]
    before = cloud.status(jids)
    gate.open()
    history = record_statuses(cloud, jids, before=before)
    assert history[waiting][0] == "waiting"
    assert history[queued][0] == "queued"
    assert cloud.status(jids) == ["done"] * NUM_PROCS + ["done", "done", "error", "stalled"]
    assert cloud.result([waiting, queued]) == [9, 16]


def test_final_statuses_of_a_map(cloud):
    jids = cloud.map(jf.raise_if_odd, range(30))
    cloud.join(jids, ignore_errors=True)
    assert cloud.status(jids) == ["done", "error"] * 15


# --- kill -------------------------------------------------------------------------------------
def test_kill_running_job(cloud, gates, tmp_path):
    pid_path = str(tmp_path / "pid")
    jid = cloud.call(jf.write_pid_and_wait, pid_path, gates("never").path)
    pid = int(read_when_written(pid_path))
    wait_status(cloud, jid, "processing")
    assert cloud.kill(jid) is None
    wait_status(cloud, jid, "killed")
    wait_for(lambda: process_gone(pid), 10, f"worker process {pid} to exit")
    with pytest.raises(CloudException) as info:
        cloud.result(jid)
    assert info.value.jid == jid
    assert info.value.status == "killed"
    exception = cloud.info(jid, "exception")[jid]["exception"]
    assert "terminated by user" in exception
    # a fresh worker took the killed one's place
    pids = cloud.result(cloud.map(jf.return_pid, range(4)))
    assert pid not in pids


def test_kill_queued_job_never_runs(cloud, gates, tmp_path):
    gate, busy = fill_workers(cloud, gates)
    marker = str(tmp_path / "ran")
    jid = cloud.call(jf.touch_then_return, marker)
    assert cloud.status(jid) == "queued"
    cloud.kill(jid)
    wait_status(cloud, jid, "killed")
    gate.open()
    cloud.join(busy)
    cloud.join(cloud.map(jf.square, range(2 * NUM_PROCS)))
    assert cloud.status(jid) == "killed"
    assert not os.path.exists(marker)


def test_kill_waiting_job(cloud, gates):
    gate = gates("g")
    parent = cloud.call(jf.wait_for_file, gate.path)
    child = cloud.call(jf.square, 2, _depends_on=parent)
    assert cloud.status(child) == "waiting"
    cloud.kill(child)
    wait_status(cloud, child, "killed")
    assert cloud.status(parent) in ("queued", "processing")
    gate.open()
    cloud.join(parent)
    assert cloud.status(child) == "killed"


def test_kill_finished_job_and_empty_list_do_nothing(cloud):
    jid = cloud.call(jf.square, 2)
    cloud.join(jid)
    cloud.kill(jid)
    cloud.kill([])
    assert cloud.status(jid) == "done"
    assert cloud.result(jid) == 4


def test_kill_without_argument_kills_all_of_this_clients_jobs(cloud, make_cloud, gates):
    gate, busy = fill_workers(cloud, gates)
    queued = cloud.call(jf.square, 2)
    waiting = cloud.call(jf.square, 3, _depends_on=busy)
    other = make_cloud()
    # another pool, so that the cluster has a free worker for it
    other_jid = other.call(jf.wait_for_file, gate.path, "other", _type="s1")
    wait_status(other, other_jid, "processing")
    assert cloud.kill() is None
    for jid in [*busy, queued, waiting]:
        wait_status(cloud, jid, "killed")
    assert other.status(other_jid) == "processing"
    gate.open()
    assert other.result(other_jid) == "other"
    assert cloud.result(cloud.call(jf.square, 5)) == 25  # the client still works


def test_kill_without_argument_leaves_finished_jobs(cloud):
    jid = cloud.call(jf.square, 4)
    cloud.join(jid)
    cloud.kill()
    assert cloud.status(jid) == "done"
    assert cloud.result(jid) == 16


def test_a_job_killed_as_it_starts_stops(cloud, gates, tmp_path):
    """Kills sent 0 to 10 ms after the call land before, during and after the claim and the
    start of the job: whenever the job started, its process is gone soon after; none runs on
    (it would wait for a gate that never opens, keeping its worker busy)."""
    never = gates("never").path
    for i in range(20):
        pid_path = str(tmp_path / f"pid{i}")
        jid = cloud.call(jf.write_pid_and_wait, pid_path, never)
        time.sleep(i * 0.0005)
        cloud.kill(jid)
        wait_status(cloud, jid, "killed")
        time.sleep(0.2)  # a job that started anyway has written its pid by now
        if os.path.exists(pid_path):
            pid = int(read_when_written(pid_path))
            wait_for(lambda: process_gone(pid), 10, f"killed job {jid}'s process {pid} to exit")


def test_kill_racing_with_completion(cloud):
    """Killing jobs that may be finishing at that very moment: each ends done or killed, its
    result agrees with its status, and the client goes on working."""
    for _ in range(20):
        jids = cloud.map(jf.square, range(20))
        cloud.kill(jids)
        cloud.join(jids, ignore_errors=True, timeout=10)
        values = cloud.result(jids, ignore_errors=True)
        for i, (status, value) in enumerate(zip(cloud.status(jids), values)):
            assert status in ("done", "killed")
            if status == "done":
                assert value == i * i
            else:
                assert isinstance(value, CloudException)
        assert cloud.result(cloud.map(jf.square, range(4)), timeout=5) == [0, 1, 4, 9]


# --- delete -----------------------------------------------------------------------------------
def test_delete_finished_jobs(cloud):
    jid = cloud.call(jf.print_text, "out")
    failed = cloud.call(jf.raise_value_error)
    cloud.join([jid, failed], ignore_errors=True)
    assert cloud.delete([jid, failed]) is None
    for call in (cloud.status, cloud.result, cloud.info):
        with pytest.raises(CloudException) as info:
            call(jid)
        assert "Does not exist or was purged from cache" in str(info.value)
    with pytest.raises(NoSuchJobError):
        cloud.status(failed)


def test_delete_right_after_map_kills_the_jobs_then_drops_them(cloud, gates):
    """As PiCloud's simulator did: running and queued jobs are killed, then deleted, and what
    depended on them stalls."""
    gate = gates("g")
    jids = cloud.map(jf.wait_for_file, [gate.path] * (NUM_PROCS + 3))
    dependent = cloud.call(jf.square, 2, _depends_on=jids[-1])
    wait_status(cloud, jids[0], "processing")
    assert cloud.delete(jids) is None
    for jid in jids:
        with pytest.raises(NoSuchJobError):
            cloud.status(jid)
    assert cloud.status(dependent) == "stalled"
    assert cloud.result(cloud.call(jf.square, 3)) == 9  # the workers are free again


def test_delete_with_an_unknown_jid_changes_nothing(cloud, gates):
    gate = gates("g")
    jid = cloud.call(jf.wait_for_file, gate.path, "still here")
    with pytest.raises(NoSuchJobError):
        cloud.delete([jid, jid + 1000])
    gate.open()
    assert cloud.result(jid) == "still here"


def test_delete_killed_and_stalled_jobs(cloud, gates):
    killed = cloud.call(jf.sleep_forever)
    cloud.kill(killed)
    wait_status(cloud, killed, "killed")
    gate = gates("g")
    failed = cloud.call(jf.wait_then_raise, gate.path)
    stalled = cloud.call(jf.square, 1, _depends_on=failed)
    gate.open()
    wait_status(cloud, stalled, "stalled")
    cloud.delete([killed, failed, stalled])
    for jid in (killed, failed, stalled):
        with pytest.raises(CloudException):
            cloud.status(jid)


def test_statuses_follow_the_lifecycle(cloud):
    """Sampled as fast as possible, statuses only move forward (e.g. a job seen processing is
    never seen queued again)."""
    jids = cloud.map(jf.sleep_then_return, [0.002] * 300)
    history = record_statuses(cloud, jids, interval=0)
    assert_lifecycle(history)
