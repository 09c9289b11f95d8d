"""The module-level API: ``import cloud`` and ``import cloud.mp``, as PiCloud's users wrote it.

Both module-level clouds are closed when this module's tests end."""

from __future__ import annotations

import logging

import pytest

import cloud
import cloud.mp
import picloud
import picloud.api
import picloud.mp
from picloud.exceptions import CloudException


@pytest.fixture(scope="module", autouse=True)
def close_module_level_clouds():
    cloud.close()
    cloud.mp.close()
    yield
    cloud.close()
    cloud.mp.close()


def test_cloud_is_picloud():
    assert cloud.call is picloud.call
    assert cloud.CloudException is picloud.CloudException
    assert set(picloud.__all__) <= set(dir(cloud))
    assert set(picloud.mp.__all__) <= set(dir(cloud.mp))


def test_call_and_result():
    assert cloud.result(cloud.call(lambda: 3 * 3)) == 9


def test_map():
    assert cloud.result(cloud.map(lambda x, y: x * y, [1, 3, 5], [2, 4, 6])) == [2, 12, 30]


def test_mp_call_and_result():
    assert cloud.mp.result(cloud.mp.call(pow, 2, 10)) == 1024


def test_mp_map_iresult_and_info():
    jids = cloud.mp.map(lambda x: x + 1, range(3))
    assert list(cloud.mp.iresult(jids)) == [1, 2, 3]
    assert cloud.mp.status(jids) == ["done"] * 3
    assert set(cloud.mp.info(jids, "status")) == set(jids)
    cloud.mp.join(jids)
    cloud.mp.kill(jids)
    cloud.mp.delete(jids)
    with pytest.raises(CloudException):
        cloud.mp.status(jids[0])


def test_cloud_and_mp_count_jids_separately_from_one():
    cloud.close()
    cloud.mp.close()
    assert cloud.call(abs, -1) == 1
    assert cloud.mp.call(abs, -1) == 1
    assert cloud.call(abs, -2) == 2
    assert cloud.result([1, 2]) == [1, 2]
    assert cloud.mp.result(1) == 1


def test_connection_types():
    cloud.result(cloud.call(abs, 1))
    cloud.mp.result(cloud.mp.call(abs, 1))
    assert cloud.connection_info()["connection_type"] == "simulation"
    info = cloud.mp.connection_info()
    assert info["connection_type"] == "multiprocessing"
    assert info["opened"] is True
    assert info["num_procs"] == 2  # PICLOUD_NUM_PROCS, set for the session in conftest
    assert cloud.is_simulated() is True
    assert cloud.mp.is_simulated() is True


def test_start_simulator():
    cloud.start_simulator()
    assert cloud.is_simulated() is True
    assert cloud.connection_info()["connection_type"] == "simulation"
    jid = cloud.call(abs, -5)
    cloud.start_simulator()  # already simulating: nothing restarts
    assert cloud.result(jid) == 5


def test_start_simulator_force_restart():
    cloud.call(abs, -1)
    first = cloud.call(abs, -2)
    cloud.join(first)
    cloud.start_simulator(force_restart=True)
    assert cloud.call(abs, -3) == 1  # a new simulator counts from 1 again
    assert cloud.result(1) == 3


def test_getconfigpath(picloud_home):
    assert cloud.getconfigpath() == picloud_home


def test_running_on_cloud():
    assert cloud.running_on_cloud() is False
    assert cloud.result(cloud.call(cloud.running_on_cloud)) is True
    assert cloud.mp.result(cloud.mp.call(cloud.running_on_cloud)) is True


def test_close_returns_whether_something_was_open():
    cloud.result(cloud.call(abs, 1))
    assert cloud.close() is True
    assert cloud.close() is False
    assert cloud.connection_info()["opened"] is False
    assert cloud.result(cloud.call(abs, -4)) == 4  # reopened
    assert cloud.mp.close() in (True, False)
    assert cloud.mp.close() is False


def test_finished_statuses_and_pool_constants():
    assert cloud.finished_statuses == ["done", "stalled", "error", "killed"]
    assert cloud.mp.finished_statuses == ["done", "stalled", "error", "killed"]
    assert (cloud.c1, cloud.c2, cloud.m1, cloud.s1) == ("c1", "c2", "m1", "s1")
    assert cloud.result(cloud.call(abs, -1, _type=cloud.m1)) == 1


def test_simulator_message_logged_once(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="picloud")
    monkeypatch.setattr(picloud.api, "_announced", False)
    cloud.close()
    assert cloud.result(cloud.call(abs, -1)) == 1
    assert cloud.result(cloud.call(abs, -2)) == 2
    cloud.close()
    assert cloud.result(cloud.call(abs, -3)) == 3
    cloud.start_simulator(force_restart=True)
    assert cloud.result(cloud.call(abs, -4)) == 4
    messages = [r for r in caplog.records if r.name == "picloud" and "simulator" in r.message]
    assert len(messages) == 1
    assert messages[0].levelno == logging.INFO
