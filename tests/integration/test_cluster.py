"""The cluster engine with real Redis and Celery workers: routing, faults, bad brokers."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings

import psutil
import pytest
import redis

from picloud import keys
from picloud.client import Cloud
from picloud.engines.cluster import scripts
from picloud.exceptions import CloudException, NoWorkerWarning
from picloud.sandbox.slot import FINISHED, IDLE, LAYOUT
from tests import jobfuncs as jf
from tests.services import REPO, Worker, keyed_engine, redis_server, wait_until
from workers import progress
from workers.consumer import IDLE_WAIT


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


def test_a_map_is_cut_for_the_processes_its_pool_runs(cluster):
    """The session's c1 worker runs 2 processes and says so with its heartbeat: a client's
    first submission learns it, and its maps are cut in halving pairs of chunks for them."""
    client = Cloud(keyed_engine(cluster.url), lambda: "cluster")
    try:
        assert client.result(client.call(jf.square, 2, _type="c1"), timeout=30) == 4
        jids = client.map(jf.square, range(60), _type="c1")
        assert client.result(jids, timeout=60) == [i * i for i in range(60)]
        redis_client = redis.Redis.from_url(cluster.url)
        chunks = [redis_client.hget(keys.job(j), "chunk") for j in jids]
        redis_client.close()
        sizes = [len(list(run)) for _, run in itertools.groupby(chunks)]
        assert sizes == [15, 15, 8, 8, 4, 4, 2, 2, 1, 1]
    finally:
        client.close()


def _started(client: Cloud, gate: jf.Gate, **options: object) -> int:
    """A job of pool s1 that has started (it wrote its pid) and waits for ``gate``."""
    pid_path = gate.path + ".pid"
    jid = client.call(jf.write_pid_and_wait, pid_path, gate.path, _type="s1", **options)
    jf.read_when_written(pid_path, 30)
    return jid


def test_celery_inspect_active_lists_the_chunks_pool_processes_run(client, cluster, gates):
    """Chunks never pass through Celery's consumer; ``inspect active`` lists them anyway, with
    the pool process running each one."""
    jid = _started(client, gates("inspected"))
    env = dict(os.environ, PICLOUD_BROKER_URL=cluster.url)
    found = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers", "inspect", "active", "--json",
         "--timeout", "10"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    chunks = [
        task
        for tasks in json.loads(found.stdout).values()
        for task in tasks
        if task["name"] == "picloud.chunk" and task["kwargs"]["first"] == jid
    ]
    assert [task["worker_pid"] for task in chunks] == [_pid_of(client, jid)]
    assert chunks[0]["kwargs"]["running"] == jid


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


def _take(broker: redis.Redis, owner: str, queue: str, expiry: float, again: str = "0") -> list:
    """take.lua as pool process ``owner`` of ``queue``, its lease running out at ``expiry``."""
    return scripts.run(broker, "take", time.time(), owner, expiry, "", again, queue)


def test_a_take_whose_reply_was_lost_is_neither_lost_nor_held_for_ever(client, cluster):
    """A cut connection can lose the reply to a take that ran: the pool process asking again
    gets the same chunk and jobs, and one that gave the chunk up without running it (its
    lease left to expire while the process lives on, idle) has them handed on by the reaper."""
    with pytest.warns(NoWorkerWarning):
        jid = client.call(jf.square, 2, _type="c2", _env="nobody")
    broker = redis.Redis.from_url(cluster.url)
    idle = cluster.workers["s1"].children()[0]  # a live pool process that does not run it
    owner = f"s1-lost@{socket.gethostname()}/{idle}"
    try:
        taken = _take(broker, owner, "c2.nobody", time.time() + 0.5)
        assert taken[5] == str(jid).encode()
        assert _take(broker, owner, "c2.nobody", time.time() + 0.5) == [], "taken twice"
        again = _take(broker, owner, "c2.nobody", time.time() + 0.5, again="1")
        assert again[:6] == taken[:6], "asked again, the taker lost its own chunk"
        wait_until(
            lambda: broker.hget(keys.job(jid), "status") == b"queued", 20, "the job handed on"
        )
        assert broker.zscore(keys.queue("c2.nobody"), taken[0]) is not None, "not queued again"
    finally:
        client.kill(jid)
        broker.close()


def test_a_chunk_whose_wake_up_token_was_lost_is_taken_at_once(client, cluster):
    """A pool process killed just after a wake-up token woke it takes the token with it: its
    replacement looks at the queue before it waits, and takes the chunk at once (not after
    the idle wait)."""
    worker = cluster.workers["s1"]
    broker = redis.Redis.from_url(cluster.url)
    try:
        with pytest.warns(NoWorkerWarning):
            jid = client.call(jf.square, 7, _type="s1", _env="quiet")
        chunk = broker.hget(keys.job(jid), "chunk").decode()
        broker.delete(keys.queue("s1.quiet"), keys.bell("s1.quiet"))
        broker.hset(keys.chunk_message(chunk), "queue", "s1")
        broker.zadd(keys.queue("s1"), {chunk: 1})  # queued on s1, with no token
        for pid in worker.children():
            os.kill(pid, signal.SIGKILL)
        assert client.result(jid, timeout=30) == 49
        # timed from the replacement's birth: how soon the pool starts it varies with load
        began = client.info(jid, "started")[jid]["started"].timestamp()
        born = psutil.Process(_pid_of(client, jid)).create_time()
        assert began - born < IDLE_WAIT / 2, f"taken {began - born:.1f} s after its process began"
    finally:
        broker.close()


def test_a_dead_process_that_never_started_its_taken_job_is_not_charged(client, cluster):
    """A pool process died after its take, before its job started, and nobody handed the
    chunk on (its death went unseen): when the lease expires, the reaper reads the dead
    process's slot, so the unrestartable job goes back to queued, uncharged, rather than
    failing for a run it never had: whether its slot named the chunk, none yet, or the chunk
    it had just reported (the next is taken with that report)."""
    broker = redis.Redis.from_url(cluster.url)
    jids = []
    try:
        for offset, names in enumerate(("it", "none", "the last")):
            with pytest.warns(NoWorkerWarning):
                jid = client.call(jf.square, 2, _type="c2", _env="nobody", _restartable=False)
            jids.append(jid)
            dead = 2**22 + 3 + offset  # no such process
            owner = f"c2-dead@{socket.gethostname()}/{dead}"
            slot = {"it": (jid, 0, IDLE), "none": (0, 0, IDLE), "the last": (1, 1, FINISHED)}
            with open(progress.slot_path(dead), "wb") as handle:
                handle.write(LAYOUT.pack(*slot[names]))
            chunk = _take(broker, owner, "c2.nobody", time.time() - 1)[0]
            wait_until(lambda: not broker.zscore(keys.LEASES, chunk), 20, "the lease handed on")
            assert broker.hmget(keys.job(jid), "status", "attempts") == [b"queued", None]
            progress.discard(dead)
    finally:
        client.kill(jids)
        broker.close()


def test_result_that_cannot_be_unpickled_on_the_client(client):
    jid = client.call(jf.make_unloadable_result)
    with pytest.raises(CloudException) as caught:
        client.result(jid, timeout=30)
    assert caught.value.jid == jid and "unpickle" in str(caught.value)
    assert client.status(jid) == "done"


def test_a_maps_results_read_as_one_run_come_back_each_in_its_place(client):
    """A map's jids travel to results.lua and statuses.lua as one 'first-last' run: small and
    large (read on their own) results and errors each land where their job is."""
    jids = client.map(jf.text_or_raise, range(5))
    got = client.result(jids, timeout=30, ignore_errors=True)
    assert [got[i] for i in (0, 1, 2, 4)] == ["", "y" * 100_000, "yy", "yyyy"]
    assert isinstance(got[3], CloudException) and "three" in str(got[3])
    assert client.status(jids) == ["done", "done", "done", "error", "done"]
    assert client.result(jids[1:3]) == ["y" * 100_000, "yy"]


def test_a_large_result_is_kept_apart_and_follows_its_job(client, cluster):
    """A result of 64 KB or more is moved into place under a key of its own, not copied
    through Lua: its job's hash holds none, every read finds it, a re-run and a delete take
    it along, and a large result stored in the hash (by workers before this) is still read."""
    broker = redis.Redis.from_url(cluster.url)
    big, small = client.map(jf.text_or_raise, [1, 2])
    assert client.result(big, timeout=30) == "y" * 100_000
    assert broker.hget(keys.job(big), "result") is None
    assert len(broker.get(keys.result(big))) > 100_000
    assert broker.exists(keys.result(small)) == 0
    assert not list(broker.scan_iter(keys.PREFIX + "staged:*"))
    assert client.result([big, small]) == ["y" * 100_000, "yy"]
    assert client.info(big, "status")[big]["status"] == "done"

    inline = client.call(jf.text_or_raise, 1)
    client.result(inline, timeout=30)
    broker.hset(keys.job(inline), "result", broker.get(keys.result(inline)))
    broker.delete(keys.result(inline))
    assert client.result(inline) == "y" * 100_000
    assert client.result([inline, small]) == ["y" * 100_000, "yy"]

    engine = client._engine
    assert engine is not None
    engine.rerun([big])
    assert client.result(big, timeout=30) == "y" * 100_000
    client.delete([big])
    assert broker.exists(keys.job(big), keys.result(big)) == 0


def test_a_staged_result_of_a_run_no_longer_the_jobs_is_dropped(client, cluster):
    """finish.lua stores a staged result only for the run that holds its job; a late report
    (its job handed on, or ended) drops it, and a staged result the broker lost fails the job
    instead of leaving it done without one."""
    broker = redis.Redis.from_url(cluster.url)
    jid = client.call(jf.square, 3)
    assert client.result(jid, timeout=30) == 9
    owner = broker.hget(keys.job(jid), "worker").decode()
    staged = keys.staged_result(jid, owner)
    broker.set(staged, b"x" * 100_000)
    scripts.run(broker, "finish", time.time(), owner, "", f"{jid} done 1.0 0.5 2", b"")
    assert broker.exists(staged, keys.result(jid)) == 0
    assert client.result(jid) == 9

    held = client.call(jf.square, 4)
    client.result(held, timeout=30)
    broker.hset(keys.job(held), mapping={"status": "processing", "worker": "w1"})
    scripts.run(broker, "finish", time.time(), "w1", "", f"{held} done 1.0 0.5 2", b"")
    assert client.status(held) == "error"
    assert "lost by the broker" in str(client.info(held, "exception")[held]["exception"])


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
