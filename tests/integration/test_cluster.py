"""The cluster engine with real Redis and Celery workers: routing, faults, bad brokers."""

from __future__ import annotations

import os
import signal
import socket
import time
import warnings

import pytest
import redis

from picloud import keys
from picloud.client import Cloud
from picloud.engines.cluster import scripts
from picloud.exceptions import CloudException, NoWorkerWarning
from picloud.sandbox.slot import IDLE, LAYOUT
from tests import jobfuncs as jf
from tests.services import Worker, keyed_engine, redis_server, wait_until
from workers import progress


@pytest.fixture
def gates(tmp_path):
    """``gates('name')``: a file-based gate jobs wait on; all opened at teardown."""
    made: list[jf.Gate] = []

    def make(name: str) -> jf.Gate:
        made.append(jf.Gate(str(tmp_path / name)))
        return made[-1]

    yield make
    for gate in made:
        if not os.path.exists(gate.path):
            gate.open()


@pytest.fixture
def client(cluster):
    made = Cloud(keyed_engine(cluster.url), lambda: "cluster")
    yield made
    made.close()


def _pid_of(client: Cloud, jid: int) -> int:
    return int(client.info(jid, "worker")[jid]["worker"].rsplit("/", 1)[1])


def test_info_names_the_queue_and_worker_that_ran_the_job(client, cluster):
    for pool in ("c1", "c2", "m1", "s1"):
        jid = client.call(jf.square, 3, _type=pool)
        assert client.result(jid, timeout=30) == 9
        info = client.info(jid, ["queue", "worker", "type"])[jid]
        assert info["queue"] == pool and info["type"] == pool
        assert info["worker"].startswith(f"{pool}-")  # the Celery node name of that pool
    env_job = client.call(jf.square, 2, _type="c2", _env="base")
    assert client.result(env_job, timeout=30) == 4
    assert client.info(env_job, "queue")[env_job]["queue"] == "c2.base"


def _started(client: Cloud, gate: jf.Gate, **options: object) -> int:
    """A job of pool s1 that has started (it wrote its pid) and waits for ``gate``."""
    pid_path = gate.path + ".pid"
    jid = client.call(jf.write_pid_and_wait, pid_path, gate.path, _type="s1", **options)
    jf.read_when_written(pid_path, 30)
    return jid


def test_restartable_job_survives_its_process_being_killed(client, gates):
    gate = gates("restartable")
    jid = _started(client, gate)
    os.kill(_pid_of(client, jid), signal.SIGKILL)  # its pool process, and its sandbox with it
    gate.open()
    assert client.result(jid, timeout=60) > 0
    assert client.info(jid, "attempts")[jid]["attempts"] == 2


def test_non_restartable_job_fails_naming_the_lost_worker(client, gates):
    gate = gates("not-restartable")
    jid = _started(client, gate, _restartable=False)
    worker = client.info(jid, "worker")[jid]["worker"]
    os.kill(_pid_of(client, jid), signal.SIGKILL)
    with pytest.raises(CloudException) as caught:
        client.result(jid, timeout=60)
    assert worker in str(caught.value) and "_restartable=False" in str(caught.value)
    assert client.status(jid) == "error"


@pytest.mark.slow
def test_jobs_of_a_dead_worker_come_back_through_their_lease(tmp_path, gates):
    """A whole worker (main process and children) dies: its jobs' lease expires and the reaper
    of another worker requeues them; nothing stays processing."""
    with redis_server() as url:
        first = Worker(url, "c1", 2, tmp_path)
        other = Worker(url, "s1", 1, tmp_path)  # keeps a reaper alive
        first.wait_ready()
        other.wait_ready()
        client = Cloud(keyed_engine(url), lambda: "cluster")
        try:
            gate = gates("lease")
            again = client.call(jf.wait_for_file, gate.path, "again")
            started = str(tmp_path / "lost.pid")
            lost = client.call(jf.write_pid_and_wait, started, gate.path, _restartable=False)
            jf.wait_status(client, again, "processing")
            jf.read_when_written(started)  # it runs (processing means claimed)
            first.kill()
            replacement = Worker(url, "c1", 1, tmp_path)
            try:
                replacement.wait_ready()
                gate.open()
                assert client.result(again, timeout=60) == "again"
                with pytest.raises(CloudException, match="was lost"):
                    client.result(lost, timeout=60)
            finally:
                replacement.stop()
        finally:
            client.close()
            other.stop()


def test_unreachable_broker_fails_fast_naming_it_without_password():
    started = time.monotonic()
    client = Cloud(keyed_engine("redis://:s3cret@127.0.0.1:1/0"), lambda: "cluster")
    with pytest.raises(CloudException) as caught:
        client.call(jf.square, 2)
    assert time.monotonic() - started < 10
    assert "127.0.0.1:1" in str(caught.value) and "s3cret" not in str(caught.value)


def test_pool_without_worker_warns_and_info_says_so(client):
    with pytest.warns(NoWorkerWarning, match="c2.nobody"):
        jid = client.call(jf.square, 2, _type="c2", _env="nobody")
    assert client.status(jid) == "queued"
    assert "no worker serves pool 'c2.nobody'" in client.info(jid, "worker")[jid]["worker"]
    client.kill(jid)


def test_a_claim_whose_reply_was_lost_is_neither_lost_nor_held_for_ever(client, cluster):
    """A cut connection can lose the reply to a claim that ran: the pool process asking again
    gets the same jobs, and one that gave the chunk up without running it (its lease left to
    expire while the process lives on, idle) has them handed on by the reaper."""
    with pytest.warns(NoWorkerWarning):
        jid = client.call(jf.square, 2, _type="c2", _env="nobody")
    broker = redis.Redis.from_url(cluster.url)
    chunk, key = (v.decode() for v in broker.hmget(keys.job(jid), "chunk", "owner"))
    idle = cluster.workers["s1"].children()[0]  # a live pool process that does not run it
    owner = f"s1-lost@{socket.gethostname()}/{idle}"

    def claim() -> bytes:
        expiry = time.time() + 0.5
        return scripts.run(broker, "claim", time.time(), owner, jid, 1, expiry, chunk, key)[0]

    try:
        assert claim() == str(jid).encode()
        assert claim() == str(jid).encode(), "asked again, the claimer lost its own jobs"
        wait_until(
            lambda: broker.hget(keys.job(jid), "status") == b"queued", 20, "the job handed on"
        )
    finally:
        client.kill(jid)
        broker.close()


def test_a_process_lost_before_its_claim_leaves_the_message_queued(client, cluster):
    """A pool process that died after taking a chunk's message but before claiming its jobs
    (they are still queued): handing the chunk on puts the message back, or no worker would
    ever see those jobs again."""
    with pytest.warns(NoWorkerWarning):
        jid = client.call(jf.square, 2, _type="c2", _env="nobody")
    broker = redis.Redis.from_url(cluster.url)
    try:
        chunk = broker.hget(keys.job(jid), "chunk").decode()
        queue = broker.hget(keys.chunk_message(chunk), "queue")
        broker.delete(queue)  # the dead process took the message
        owner = f"c2-lost@{socket.gethostname()}/1"
        scripts.run(broker, "release", time.time(), chunk, owner, 0, "unknown", "lost", 3)
        assert broker.llen(queue) == 1, "the jobs were left queued with no message"
        assert broker.hget(keys.job(jid), "status") == b"queued"
    finally:
        client.kill(jid)
        broker.close()


def test_a_worker_lost_whole_gives_back_the_messages_it_had_not_claimed(client, cluster):
    """A worker SIGKILLed whole held two messages: one chunk claimed (its lease expires), one
    taken but not claimed yet (kombu would give it back only after an hour). The reapers of
    the live workers queue both messages again."""
    with pytest.warns(NoWorkerWarning):
        claimed = client.call(jf.square, 2, _type="c2", _env="nobody")
        taken = client.call(jf.square, 3, _type="c2", _env="nobody")
    broker = redis.Redis.from_url(cluster.url)
    try:
        chunk, key = (v.decode() for v in broker.hmget(keys.job(claimed), "chunk", "owner"))
        queue = broker.hget(keys.chunk_message(chunk), "queue")
        broker.delete(queue)  # the dead worker had taken both messages
        dead = f"c2-dead@{socket.gethostname()}/{2**22 + 1}"  # no such process
        scripts.run(broker, "claim", time.time(), dead, claimed, 1, time.time() - 1, chunk, key)
        wait_until(lambda: broker.llen(queue) >= 2, 20, "both messages queued again")
        assert broker.hget(keys.job(taken), "status") == b"queued"
    finally:
        client.kill([claimed, taken])
        broker.close()


def test_a_dead_process_that_never_started_its_claimed_job_is_not_charged(client, cluster):
    """A pool process died after its claim, before its job started, and nobody handed the
    chunk on (its death was not reported with the message): when the lease expires, the
    reaper reads the dead process's slot, so the unrestartable job goes back to queued,
    uncharged, rather than failing for a run it never had."""
    with pytest.warns(NoWorkerWarning):
        jid = client.call(jf.square, 2, _type="c2", _env="nobody", _restartable=False)
    broker = redis.Redis.from_url(cluster.url)
    dead = 2**22 + 3  # no such process
    try:
        chunk, key = (v.decode() for v in broker.hmget(keys.job(jid), "chunk", "owner"))
        owner = f"c2-dead@{socket.gethostname()}/{dead}"
        with open(progress.slot_path(dead), "wb") as slot:
            slot.write(LAYOUT.pack(jid, 0, IDLE))  # its chunk, no job started
        scripts.run(broker, "claim", time.time(), owner, jid, 1, time.time() - 1, chunk, key)
        wait_until(lambda: not broker.zscore(keys.LEASES, chunk), 20, "the lease handed on")
        assert broker.hmget(keys.job(jid), "status", "attempts") == [b"queued", None]
    finally:
        progress.discard(dead)
        client.kill(jid)
        broker.close()


def test_result_that_cannot_be_unpickled_on_the_client(client):
    jid = client.call(jf.make_unloadable_result)
    with pytest.raises(CloudException) as caught:
        client.result(jid, timeout=30)
    assert caught.value.jid == jid and "unpickle" in str(caught.value)
    assert client.status(jid) == "done"


def test_dependency_across_separate_calls_released_when_parent_finishes(client, gates):
    gate = gates("parent")
    parent = client.call(jf.wait_for_file, gate.path, 5)
    child = client.call(jf.add, 1, 1, _depends_on=parent)
    assert client.status(child) == "waiting"
    gate.open()
    assert client.result(child, timeout=30) == 2


def test_kill_sticks_across_a_worker_restart(tmp_path):
    with redis_server() as url:
        client = Cloud(keyed_engine(url), lambda: "cluster")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoWorkerWarning)
            jid = client.call(jf.square, 4)  # no worker yet: it waits in the queue
        client.kill(jid)
        worker = Worker(url, "c1", 1, tmp_path)
        try:
            worker.wait_ready()
            marker = client.call(jf.square, 5)
            assert client.result(marker, timeout=30) == 25  # the queue was drained past it
            assert client.status(jid) == "killed"
            assert redis.Redis.from_url(url).hget(f"pc:job:{jid}", "worker") is None  # never ran
        finally:
            client.close()
            worker.stop()


def test_stdout_is_readable_while_the_job_runs(client, gates):
    gate = gates("stdout")
    jid = client.call(jf.print_and_wait_for_file, "hello from the cluster", gate.path)
    wait_until(
        lambda: "hello from the cluster" in (client.info(jid, "stdout")[jid]["stdout"]),
        20,
        "stdout in Redis",
    )
    assert client.status(jid) == "processing"
    gate.open()
    client.join(jid, timeout=30)


def test_a_submission_after_redis_lost_its_scripts_is_queued(client, cluster):
    cluster_client = redis.Redis.from_url(cluster.url)
    client.status(client.call(jf.square, 1))  # connected, scripts loaded
    cluster_client.script_flush()  # as a Redis restarted from its AOF has none
    cluster_client.close()
    assert client.result(client.call(jf.square, 6), timeout=30) == 36
