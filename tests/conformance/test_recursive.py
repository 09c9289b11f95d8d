"""Jobs that run jobs (a PiCloud pattern): a job's cloud calls go to the engine running it (the
simulator's parent, the cluster job's supervisor), and a wait that can never be served ends
with PiCloud's dead-lock error instead of hanging."""

from __future__ import annotations

import pytest

from picloud.exceptions import CloudException
from tests import jobfuncs as jf


def test_a_job_maps_jobs_of_its_own_and_waits_for_them(cloud):
    jid = cloud.call(jf.fan_out, 6)
    assert cloud.result(jid, timeout=120) == [x * x for x in range(6)]


def test_jobs_all_waiting_on_queued_jobs_end_with_the_dead_lock_error(cloud):
    quick = {"PICLOUD_DEADLOCK_SECONDS": "2"}
    jids = cloud.map(jf.wait_on_inner_job, [1, 2], _os_env_vars=quick)  # both workers wait
    with pytest.raises(CloudException, match="detected possible dead-lock due to recursive"):
        cloud.result(jids, timeout=120)
    cloud.join(jids, timeout=60, ignore_errors=True)


def test_a_wait_inside_a_job_is_fine_when_a_worker_is_free(cloud):
    assert cloud.result(cloud.call(jf.wait_on_inner_job, 7), timeout=120) == 49
