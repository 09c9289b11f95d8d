"""A whole worker dies (R3), and a job outlives its lease while holding the GIL (R5)."""

from __future__ import annotations

import time

from picloud.client import Cloud
from tests.faults import jobs
from tests.faults.figures import TERMINAL
from tests.faults.harness import LEASE, FaultCluster, settle, statuses, wait_for

#: A dead worker's running jobs must be handed on within this many seconds.
HAND_ON_SECONDS = 10.0


def _handed_on(
    cluster: FaultCluster, cloud: Cloud, running: set[int], killed_at: float, timeout: float
) -> dict[int, float]:
    """jid -> seconds from the kill until it started again or ended, for ``running``."""
    handed: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(handed) < len(running) and time.monotonic() < deadline:
        left = sorted(running - set(handed))
        ended = statuses(cloud, left)
        for jid in left:
            again = cluster.ledger.first_start_after([jid], killed_at)
            if again is not None:
                handed[jid] = again - killed_at
            elif ended[jid] in TERMINAL:
                handed[jid] = time.time() - killed_at
        time.sleep(0.1)
    return handed


def test_r3_dead_workers_running_jobs_are_handed_on(make_cluster, figures, full):
    """kill -9 of a worker's process group mid-map, a second worker serving the same queue:
    0 lost; the jobs it was running start again (or end) within 10 s; re-runs reported."""
    figures.scenario = "kill -9 -PGID of one of two workers mid-map"
    n, seconds = (1000, 0.05) if full else (60, 0.2)
    cluster = make_cluster(2, 2)
    victim = cluster.workers[0]
    cloud = cluster.cloud()
    jids = cloud.map(jobs.work, [cluster.jobdir] * n, range(n), [seconds] * n)

    def victim_busy() -> bool:
        started = len(cluster.ledger.starts()) >= n // 5
        return started and bool(cluster.ledger.interrupted(cluster.job_pids([victim])))

    assert wait_for(victim_busy, 30), "the worker to kill never ran a job"
    pids = cluster.job_pids([victim])
    victim.kill()
    killed_at = time.time()
    running = cluster.ledger.interrupted(pids)
    handed = _handed_on(cluster, cloud, running, killed_at, timeout=HAND_ON_SECONDS + 20)
    found = settle(cloud, jids, timeout=60 + n / 10)
    figures.count(cluster.ledger.executions(jids), found)
    figures.recovery = max(handed.values(), default=0.0)
    figures.notes.update(running_at_kill=len(running), never_handed=len(running) - len(handed))
    assert running, "no job was running in the killed worker"
    assert figures.lost == 0 and figures.processing == 0 and figures.errors == 0
    assert len(handed) == len(running), "a dead worker's job was never handed on"
    assert figures.recovery <= HAND_ON_SECONDS


def _gil_loop_size(cloud: Cloud, seconds: float) -> int:
    """An ``n`` for which ``sum(range(n))`` takes about ``seconds`` on the workers."""
    n = 5_000_000
    took = cloud.result(cloud.call(jobs.sum_seconds, n), timeout=30)
    return int(n * seconds / took)


def test_r5_job_holding_the_gil_past_its_lease_runs_once(make_cluster, figures, full):
    """One job that holds the GIL for ~5 leases (a single C call) runs exactly once."""
    figures.scenario = "job holds the GIL for 5x the lease"
    lease = 6.0 if full else LEASE
    cluster = make_cluster(2, lease=lease)
    cloud = cluster.cloud()
    jid = cloud.call(jobs.hold_gil, cluster.jobdir, _gil_loop_size(cloud, 5 * lease))
    found = settle(cloud, [jid], timeout=5 * lease * 4 + 30)
    wait_for(lambda: cluster.ledger.executions([jid])[jid] > 1, lease)  # a late second run
    runs = cluster.ledger.executions([jid])
    figures.count(runs, found)
    starts, ends = cluster.ledger.starts(), cluster.ledger.ends()
    runtime = ends[0].time - starts[0].time if starts and ends else 0.0
    figures.notes.update(lease_s=lease, runtime_s=round(runtime, 1))
    assert found[jid] == "done" and runs[jid] == 1, f"{found[jid]}, ran {runs[jid]} times"
    assert figures.notes["runtime_s"] >= 3 * lease, "harness: the job was shorter than 3 leases"
