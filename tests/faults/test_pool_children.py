"""Faults of pool processes: children SIGKILLed from outside (R1, R2) — a pool process (the
supervisor, whose sandboxes die with it) or only the sandbox a job runs in — a job that
SIGKILLs its own process (R4), ``_kill_process`` jobs in a map (R12)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.faults import jobs
from tests.faults.figures import Figures
from tests.faults.harness import ChildKiller, FaultCluster, repeating, settle

#: How an error must name a pool process killed by SIGKILL.
SIGKILL_TEXT = re.compile(r"signal 9|SIGKILL")


#: What the killer SIGKILLs: a pool process (with its sandboxes), or only a sandbox.
TARGETS = ["pool", "sandbox"]


def _map_under_kills(
    cluster: FaultCluster, n: int, kills: int, figures: Figures, target: str, **options: Any
) -> tuple[range, dict[int, str], ChildKiller]:
    """Map ``n`` 20 ms jobs while a random pool process (or sandbox) is SIGKILLed every 0.5 s
    (at most ``kills`` times, until every job ended); fills the common figures."""
    if target == "sandbox":
        figures.scenario = figures.scenario.replace("child", "sandbox")
    cloud = cluster.cloud()
    started = time.monotonic()
    jids = cloud.map(jobs.work, [cluster.jobdir] * n, range(n), **options)
    killer = ChildKiller(cluster, sandboxes=target == "sandbox")
    with repeating(killer, 0.5, kills):
        found = settle(cloud, jids, timeout=60 + n / 10)
    figures.count(cluster.ledger.executions(jids), found)
    figures.notes.update(kills=len(killer.killed), wall_s=round(time.monotonic() - started, 1))
    return jids, found, killer


@pytest.mark.parametrize("target", TARGETS)
def test_r1_restartable_jobs_survive_pool_child_kills(make_cluster, figures, full, target):
    """0 lost, every result right, nothing left processing; a job runs again only after a
    run in a killed process (the one running then, or one that ended there unreported)."""
    figures.scenario = "restartable 20 ms map, child SIGKILL / 0.5 s"
    n, kills = (1000, 40) if full else (200, 6)
    cluster = make_cluster(*((2, 2) if full else (2,)))
    jids, found, killer = _map_under_kills(cluster, n, kills, figures, target)
    values = [] if figures.lost else cluster.cloud().result(jids, timeout=30, ignore_errors=True)
    wrong = sum(value != x * x for x, value in enumerate(values)) if values else n
    figures.notes["wrong_results"] = wrong
    assert figures.lost == 0 and figures.processing == 0
    assert wrong == 0, [v for v in values if isinstance(v, Exception)][:3]
    unjustified = cluster.ledger.reruns_outside(killer.pids)
    assert not unjustified, f"jobs ran again though no killed process had run them: {unjustified}"


@pytest.mark.parametrize("target", TARGETS)
def test_r2_unrestartable_jobs_fail_only_when_killed_running(make_cluster, figures, full, target):
    """Only jobs that were running in a killed process end ``error`` (naming SIGKILL); every
    other job runs once and ends done; no job runs twice or stays stuck."""
    figures.scenario = "_restartable=False map, child SIGKILL / 0.5 s"
    n, kills = (1000, 40) if full else (200, 6)
    cluster = make_cluster(*((2, 2) if full else (2,)))
    jids, found, killer = _map_under_kills(cluster, n, kills, figures, target, _restartable=False)
    runs = cluster.ledger.executions(jids)
    ended = {r.jid for r in cluster.ledger.ends()}
    interrupted = cluster.ledger.interrupted(killer.pids)
    in_killed = {r.jid for r in cluster.ledger.starts() if r.pid in killer.pids}
    failed = [jid for jid, status in found.items() if status == "error"]
    texts = cluster.cloud().result(failed, timeout=10, ignore_errors=True) if failed else []
    figures.notes.update(
        interrupted=len(interrupted),
        charged_never_ran=sum(jid not in runs for jid in failed),
        failed_elsewhere=sum(jid not in in_killed for jid in failed),
        unnamed=sum(not SIGKILL_TEXT.search(str(t)) for t in texts),
        never_ran=sum(jid not in runs for jid in jids),
        done_unfinished=sum(s == "done" and j not in ended for j, s in found.items()),
    )
    assert figures.lost == 0 and figures.processing == 0
    assert max(runs.values(), default=0) <= 1, "a job ran twice"
    assert figures.notes["charged_never_ran"] == 0 and figures.notes["never_ran"] == 0
    assert figures.notes["failed_elsewhere"] == 0, "a job failed that no killed process ran"
    assert all(found[jid] == "error" for jid in interrupted)
    assert figures.notes["unnamed"] == 0, [str(t) for t in texts][:3]
    assert figures.notes["done_unfinished"] == 0


def test_r4_job_that_kills_its_process_runs_three_times(make_cluster, figures, full):
    """The job runs exactly 3 times, then ends ``error`` naming the deaths; its neighbours
    all end done, none charged."""
    figures.scenario = "restartable job SIGKILLs itself, in a map"
    neighbours = 200 if full else 100  # chunks of 3 (one job each below 64)
    cluster = make_cluster(2)
    cloud = cluster.cloud()
    n = neighbours + 1
    victim = n // 2
    jids = cloud.map(jobs.kill_own_process, [cluster.jobdir] * n, range(n), [victim] * n)
    found = settle(cloud, jids, timeout=90)
    runs = cluster.ledger.executions(jids)
    figures.count(runs, found)
    bad = jids[victim]
    error = cloud.result(bad, timeout=10, ignore_errors=True) if found[bad] == "error" else None
    others = {jid: status for jid, status in found.items() if jid != bad}
    figures.notes.update(
        victim_runs=runs[bad],
        victim=found[bad],
        neighbours_not_done=sum(s != "done" for s in others.values()),
    )
    assert figures.lost == 0 and figures.processing == 0
    assert runs[bad] == 3, f"the self-killing job ran {runs[bad]} times"
    assert found[bad] == "error" and SIGKILL_TEXT.search(str(error)), str(error)
    not_done = [jid for jid, status in others.items() if status != "done"]
    texts = cloud.result(not_done[:3], timeout=10, ignore_errors=True) if not_done else []
    assert not not_done, [(j, found[j], runs[j], str(t)) for j, t in zip(not_done, texts)]
    assert all(runs[jid] >= 1 for jid in others)


def test_r12_kill_process_jobs_each_get_a_fresh_process(make_cluster, figures, full):
    """Every ``_kill_process`` job of a map runs, once, each in a process of its own."""
    figures.scenario = "_kill_process=True map"
    n = 200 if full else 30
    cluster = make_cluster(2)
    cloud = cluster.cloud()
    jids = cloud.map(jobs.own_pid, [cluster.jobdir] * n, range(n), _kill_process=True)
    found = settle(cloud, jids, timeout=30 + n)
    runs = cluster.ledger.executions(jids)
    figures.count(runs, found)
    pids = {r.pid for r in cluster.ledger.starts()}
    figures.notes["distinct_pids"] = len(pids)
    assert figures.lost == 0 and figures.processing == 0 and figures.errors == 0
    assert figures.executions == n and len(runs) == n
    assert len(pids) == n
