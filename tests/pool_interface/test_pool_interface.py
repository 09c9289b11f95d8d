"""cloud.pool_interface: a multiprocessing.Pool program runs unchanged; AsyncResult; limits."""

from __future__ import annotations

import multiprocessing

import pytest

import cloud
import picloud.pool_interface
from cloud import pool_interface
from picloud.exceptions import CloudException, CloudTimeoutError
from tests.jobfuncs import raise_value_error, wait_for_file
from tests.pool_interface import program


@pytest.fixture(autouse=True)
def simulator():
    """Jobs on a fresh simulator (the connection pool_interface uses is cloud's)."""
    cloud.start_simulator(force_restart=True)
    yield
    cloud.close()


def test_the_program_prints_the_same_on_both_pools():
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        expected = program.main(pool)
    assert program.main(pool_interface) == expected
    assert expected[0] == "apply 1024"


def test_cloud_pool_interface_is_picloud_pool_interface():
    assert pool_interface.apply is picloud.pool_interface.apply
    assert set(picloud.pool_interface.__all__) <= set(dir(pool_interface))


def test_jobs_run_on_clouds_connection():
    jids_before = cloud.call(abs, 0)
    assert pool_interface.apply(abs, (-1,)) == 1
    assert cloud.result(jids_before + 1) == 1  # the next jid of the same simulator


def test_get_with_timeout_raises_cloud_timeout_error(tmp_path):
    gate = str(tmp_path / "gate")
    pending = pool_interface.apply_async(wait_for_file, (gate, "late"))
    with pytest.raises(CloudTimeoutError):
        pending.get(timeout=0.05)
    assert pending.ready() is False
    with pytest.raises(ValueError, match="not ready"):
        pending.successful()
    pending.wait(timeout=0.05)  # returns, still not ready
    open(gate, "w").close()
    pending.wait()
    assert pending.ready() and pending.successful() and pending.get() == "late"


def test_a_failed_job_raises_cloud_exception():
    called = []
    pending = pool_interface.apply_async(raise_value_error, ("bad",), callback=called.append)
    pending.wait()
    assert pending.ready() is True
    assert pending.successful() is False
    with pytest.raises(CloudException, match="ValueError: bad"):
        pending.get()
    with pytest.raises(CloudException, match="ValueError: bad"):
        pool_interface.apply(raise_value_error, ("bad",))
    assert called == []  # callbacks run for done jobs only, as in multiprocessing


def test_map_async_of_many_jobs():
    pending = pool_interface.map_async(abs, range(-50, 0))
    assert pending.get(timeout=60) == list(range(50, 0, -1))
    assert pending.successful()


def test_what_is_not_supported():
    for name in ["Pool", "close", "join", "terminate"]:
        assert not hasattr(pool_interface, name)
    with pytest.raises(TypeError):
        pool_interface.apply(divmod, (7,), {"b": 2})  # no keyword arguments for the function
    with pytest.raises(TypeError):
        pool_interface.map_async(abs, [1], callback=print)  # no callback for map_async


def test_imap_chunksize_sets_the_read_ahead_not_a_timeout():
    results = pool_interface.imap(abs, [-1, -2, -3], chunksize=2)
    assert results._read_ahead == 2 and results._timeout is None  # PiCloud put it in timeout
    assert list(results) == [1, 2, 3]
