"""Captured stdout/stderr; connection_info, is_simulated, running_on_cloud, close."""

from __future__ import annotations

import os

import picloud
from tests import jobfuncs as jf
from tests.conftest import CONNECTION_TYPES, NUM_PROCS
from tests.jobfuncs import wait_for, wait_status


# --- output -----------------------------------------------------------------------------------
def test_stdout_readable_through_info_while_processing(cloud, gates):
    gate = gates("g")
    jid = cloud.call(jf.print_and_wait_for_file, "hello from the job", gate.path, "to stderr")

    def printed():
        info = cloud.info(jid, ["stdout", "stderr", "status"])[jid]
        return info if "hello from the job" in info.get("stdout", "") else None

    info = wait_for(printed, 10, "the job's stdout")
    assert info["status"] == "processing"
    assert info["stdout"] == "hello from the job\n"
    assert cloud.status(jid) == "processing"
    wait_for(lambda: "to stderr" in cloud.info(jid, "stderr")[jid].get("stderr", ""))
    gate.open()
    assert cloud.result(jid) == "released"
    final = cloud.info(jid)[jid]
    assert final["stdout"] == "hello from the job\n"
    assert final["stderr"] == "to stderr\n"


def test_output_is_captured_per_job(cloud):
    jids = cloud.map(jf.print_text, ["first", "second", "third"], ["e1", "e2", "e3"])
    cloud.join(jids)
    info = cloud.info(jids, ["stdout", "stderr"])
    assert [info[j]["stdout"] for j in jids] == ["first\n", "second\n", "third\n"]
    assert [info[j]["stderr"] for j in jids] == ["e1\n", "e2\n", "e3\n"]


def test_job_that_prints_nothing(cloud):
    jid = cloud.call(jf.square, 2)
    cloud.join(jid)
    assert cloud.info(jid)[jid].get("stdout", "") == ""


def test_stdout_of_failed_job(cloud):
    def noisy():
        print("before the crash")
        raise RuntimeError("crash")

    jid = cloud.call(noisy)
    cloud.join(jid, ignore_errors=True)
    info = cloud.info(jid, ["stdout", "exception", "status"])[jid]
    assert info["status"] == "error"
    assert info["stdout"] == "before the crash\n"
    assert "RuntimeError: crash" in info["exception"]


def test_stdout_is_the_last_64k_chars(cloud):
    jid = cloud.call(jf.print_lots, 100_000)
    cloud.join(jid)
    stdout = cloud.info(jid, "stdout")[jid]["stdout"]
    assert len(stdout) == 64_000
    assert stdout.endswith("789END")


# --- connection -------------------------------------------------------------------------------
def test_connection_info_once_opened(cloud, engine):
    cloud.result(cloud.call(jf.square, 2))
    info = cloud.connection_info()
    assert info["opened"] is True
    assert info["connection_type"] == CONNECTION_TYPES[engine]
    if engine == "local":
        assert info["num_procs"] == NUM_PROCS


def test_connection_info_before_open_and_after_close(cloud, engine):
    info = cloud.connection_info()
    assert info["opened"] is False
    assert info["connection_type"] == CONNECTION_TYPES[engine]
    cloud.result(cloud.call(jf.square, 2))
    cloud.close()
    info = cloud.connection_info()
    assert info["opened"] is False
    assert info["connection_type"] == CONNECTION_TYPES[engine]


def test_is_simulated(cloud, engine):
    expected = engine == "local"
    assert cloud.is_simulated() is expected  # before the engine opens
    cloud.result(cloud.call(jf.square, 2))
    assert cloud.is_simulated() is expected
    cloud.close()
    assert cloud.is_simulated() is expected


def test_running_on_cloud(cloud):
    assert picloud.running_on_cloud() is False
    assert cloud.result(cloud.call(jf.running_on_cloud_inside)) is True
    assert cloud.result(cloud.call(picloud.running_on_cloud)) is True
    assert picloud.running_on_cloud() is False


def test_close_is_idempotent_and_reopens(cloud):
    assert cloud.close() is False  # nothing open yet
    assert cloud.result(cloud.call(jf.square, 3)) == 9
    assert cloud.close() is True
    assert cloud.close() is False
    assert cloud.connection_info()["opened"] is False
    assert cloud.result(cloud.call(jf.square, 4)) == 16  # reopened on next use
    assert cloud.connection_info()["opened"] is True
    assert cloud.close() is True


def test_close_stops_the_workers(engine, cloud, make_cloud):
    """Closing stops a local engine's processes; the cluster's workers belong to the fleet and
    go on serving other clients."""
    pids = set(cloud.result(cloud.map(jf.return_pid, range(2 * NUM_PROCS))))
    assert os.getpid() not in pids
    cloud.close()
    if engine == "local":
        for pid in pids:
            wait_for(lambda pid=pid: jf.process_gone(pid), 10, f"worker {pid} to exit")
    else:
        assert not any(jf.process_gone(pid) for pid in pids)
        other = make_cloud()
        assert other.result(other.call(jf.square, 3), timeout=30) == 9


def test_close_with_running_jobs(cloud, gates):
    jid = cloud.call(jf.wait_for_file, gates("never").path)
    wait_status(cloud, jid, "processing")
    assert cloud.close() is True
    assert cloud.result(cloud.call(jf.square, 5)) == 25
