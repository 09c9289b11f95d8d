"""A job is untrusted code: each attack a hostile job makes from its sandbox, on the session's
cluster (a password-protected Redis, workers running as root), must fail; each test says
which one got through if any."""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

import pytest

from picloud import keyring, keys
from picloud.client import Cloud
from picloud.engines.cluster import ClusterEngine
from picloud.exceptions import CloudException
from tests import jobfuncs as jf
from tests.sandbox import attacks
from tests.services import TEST_AUTHORITY, keyed_engine, register_key
from workers.pools import POOLS

#: A second tenant of the same fleet.
OTHER_KEY, OTHER_SECRET = "2002", "fedcba9876543210fedcba9876543210fedcba98"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: sandboxes switch uids")


@pytest.fixture
def tenant(cluster, fleet):
    """A cloud of the tests' key (1001)."""
    made = Cloud(keyed_engine(cluster.url), lambda: "cluster")
    yield made
    made.close()


@pytest.fixture
def other(cluster, fleet):
    """A cloud of another key of the same fleet."""
    made = Cloud(keyed_engine(cluster.url, OTHER_KEY, OTHER_SECRET), lambda: "cluster")
    yield made
    made.close()


def test_a_job_finds_no_broker_password_anywhere(tenant, cluster, picloud_home):
    password = urlsplit(cluster.url).password
    dump = tenant.result(tenant.call(attacks.everything_readable, [picloud_home]), timeout=120)
    assert len(dump) > 1000, "the job read almost nothing: the test itself is broken"
    assert password not in dump, "the broker's password was readable from inside a job"
    assert "PICLOUD_BROKER_URL" not in dump and cluster.url not in dump


def test_a_job_runs_as_its_own_uid_with_no_descriptor_but_its_channel(tenant):
    pid, uid, euid = tenant.result(tenant.call(attacks.identity), timeout=60)
    assert uid != 0 and euid != 0 and uid != os.getuid()
    fds = tenant.result(tenant.call(attacks.open_descriptors), timeout=60)
    sockets = [line for line in fds if "socket:" in line]
    assert len(sockets) == 1, f"a job holds more than its channel: {fds}"


def test_the_broker_refuses_a_job_that_knows_its_port(tenant, cluster):
    port = urlsplit(cluster.url).port
    answer = tenant.result(tenant.call(attacks.redis_without_password, port), timeout=60)
    assert "NOAUTH" in answer and "PONG" not in answer, answer


def test_a_job_cannot_signal_its_supervisor_or_its_worker(tenant, cluster):
    worker = cluster.workers["c1"]
    before = set(worker.children())
    outcome = tenant.result(
        tenant.call(attacks.signal_processes, [worker.process.pid, *before]), timeout=60
    )
    assert all(line.endswith("PermissionError") for line in outcome), outcome
    assert worker.process.poll() is None and before <= set(worker.children())


def test_two_keys_never_share_a_sandbox(tenant, other):
    seen = []
    for client in (tenant, other, tenant, other):
        seen.append(client.result(client.call(attacks.identity, _type="s1"), timeout=60))
    assert seen[0][0] != seen[1][0] and seen[0][1] != seen[1][1]
    assert seen[1][0] != seen[2][0] and seen[2][0] != seen[3][0]


def test_a_job_reaches_nothing_of_another_key(tenant, other):
    secret_jid = tenant.call(attacks.leave_a_secret, "secret.txt", "tenant's secret")
    assert tenant.result(secret_jid, timeout=60) == "tenant's secret"
    found = other.result(other.call(attacks.try_to_read, "secret.txt", secret_jid), timeout=60)
    assert "secret.txt" not in found["files"], found
    got = {label: text for label, text in found.items() if text.startswith("GOT")}
    assert not got, f"another key's data was reachable: {got}"
    assert found["get"].startswith("NoSuchFileError")
    assert found["traversal"].startswith("InvalidFileNameError")
    for label in ("result", "info", "status", "kill"):
        assert "Does not exist" in found[label], (label, found[label])
    assert tenant.status(secret_jid) == "done"


def test_a_job_fans_out_as_its_own_key(other, fleet):
    jids, values = other.result(other.call(attacks.fan_out, 5), timeout=120)
    assert values == [x * x for x in range(5)]
    owners = {fleet.hget(keys.job(j), "owner").decode() for j in jids}
    assert owners == {OTHER_KEY}


def test_a_memory_bomb_ends_error_naming_the_limit_and_the_pool_serves_on(tenant):
    limit = POOLS["c1"].memory_per_child_mb
    bomb = tenant.call(jf.hold_memory, limit + 200)
    with pytest.raises(CloudException, match=rf"exceeded pool c1's memory limit \({limit} MB\)"):
        tenant.result(bomb, timeout=60)
    assert tenant.status(bomb) == "error"
    assert tenant.result(tenant.call(jf.square, 7), timeout=60) == 49
    within = tenant.call(jf.hold_memory, limit // 3)
    assert tenant.result(within, timeout=60) == (limit // 3) << 20


def test_a_fork_loop_is_capped_and_its_children_do_not_outlive_it(tenant):
    started = tenant.result(tenant.call(attacks.fork_many, 5000, _type="s1"), timeout=120)
    assert 0 < started < POOLS["s1"].processes
    assert tenant.result(tenant.call(attacks.children_left, _type="s1"), timeout=60) == 0


def test_a_job_holding_the_gil_is_killed_at_once(tenant):
    jid = tenant.call(attacks.hold_the_gil, 120)
    jf.wait_status(tenant, jid, "processing", 60)
    time.sleep(0.5)
    asked = time.monotonic()
    tenant.kill(jid)
    with pytest.raises(CloudException, match="terminated by user"):
        tenant.result(jid, timeout=30)
    assert time.monotonic() - asked < 5
    assert tenant.result(tenant.call(jf.square, 4), timeout=60) == 16


def test_a_forged_or_replayed_key_record_runs_nothing(fleet, cluster, tmp_path):
    marker = str(tmp_path / "ran")
    forged = Cloud(lambda: ClusterEngine(cluster.url, "3003", "3" * 40), lambda: "cluster")
    try:
        # the broker's own copy of a key, as the workers once trusted it: unsigned
        fleet.delete(keys.api_key("3003"))
        fleet.hset(keys.api_key("3003"), mapping={"public": "ab" * 32, "active": 1})
        jid = forged.call(jf.touch_then_return, marker, "forged")
        with pytest.raises(CloudException, match="not trusted"):
            forged.result(jid, timeout=60)
        register_key(fleet, "3003", "3" * 40)
        assert forged.result(forged.call(jf.square, 3), timeout=60) == 9
        active = fleet.hgetall(keys.api_key("3003"))
        keyring.withdraw(fleet, TEST_AUTHORITY, "3003")
        time.sleep(0.2)  # the workers hear of it
        fleet.hset(keys.api_key("3003"), mapping=active)  # the older record put back
        jid = forged.call(jf.touch_then_return, marker, "replayed")
        with pytest.raises(CloudException, match="older than one this worker has seen"):
            forged.result(jid, timeout=60)
    finally:
        forged.close()
    assert not os.path.exists(marker)
