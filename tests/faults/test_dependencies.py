"""Dependency chains under pool child kills (R11)."""

from __future__ import annotations

import re

from tests.faults import jobs
from tests.faults.harness import ChildKiller, repeating, settle
from workers.chunk import MAX_ATTEMPTS

DEPTH = 5


def test_r11_chains_keep_their_order_under_kills(make_cluster, figures, full):
    """Chains of ``_depends_on`` (depth 5) while pool processes are SIGKILLed: no child starts
    before its parent ended; a failed parent stalls its dependents, each naming its parent."""
    figures.scenario = "depth-5 _depends_on chains, child SIGKILLs"
    chains, kills = (100, 40) if full else (10, 6)
    cluster = make_cluster(*((2, 2) if full else (2,)))
    cloud = cluster.cloud()
    parent_of: dict[int, int] = {}
    tips = [cloud.call(jobs.work, cluster.jobdir, chain, 0.2) for chain in range(chains)]
    doomed = [cloud.call(jobs.fail, cluster.jobdir, "the root of this chain fails")]
    healthy = list(tips)
    for _ in range(DEPTH - 1):
        for chain, parent in enumerate(tips):
            tips[chain] = cloud.call(jobs.work, cluster.jobdir, chain, 0.2, _depends_on=parent)
            parent_of[tips[chain]] = parent
            healthy.append(tips[chain])
        doomed.append(cloud.call(jobs.work, cluster.jobdir, 0, 0.2, _depends_on=doomed[-1]))
        parent_of[doomed[-1]] = doomed[-2]
    killer = ChildKiller(cluster)
    everything = healthy + doomed
    with repeating(killer, 0.5, kills):
        found = settle(cloud, everything, timeout=60 + len(everything) / 5)
    runs = cluster.ledger.executions(everything)
    figures.count(runs, found)
    first_end: dict[int, float] = {}
    for record in cluster.ledger.ends():
        first_end[record.jid] = min(record.time, first_end.get(record.jid, record.time))
    early = {
        r.jid
        for r in cluster.ledger.starts()
        if r.jid in parent_of and r.time < first_end.get(parent_of[r.jid], float("inf"))
    }
    stalled = cloud.result(doomed[1:], timeout=10, ignore_errors=True) if not figures.lost else []
    unnamed = [
        str(text)
        for jid, text in zip(doomed[1:], stalled)
        if not re.search(rf"\bjob {parent_of[jid]}\b", str(text))
    ]
    figures.notes.update(kills=len(killer.killed), early_starts=len(early), unnamed=len(unnamed))
    assert figures.lost == 0 and figures.processing == 0
    assert not early, f"started before their parent ended: {sorted(early)}"
    undone = [jid for jid in healthy if found[jid] != "done"]
    failed = cloud.result(undone, timeout=10, ignore_errors=True) if undone else []
    texts = dict(zip(undone, failed))
    # A job whose process was killed under it MAX_ATTEMPTS times fails, by design (the ledger
    # must show each of those runs), and its chain stalls, each job naming its parent.
    worn_out: set[int] = set()
    for jid in undone:  # parents before their children
        text = str(texts[jid])
        if "its worker died each time" in text and runs[jid] >= MAX_ATTEMPTS:
            worn_out.add(jid)
        elif parent_of.get(jid) in worn_out and re.search(rf"\bjob {parent_of[jid]}\b", text):
            worn_out.add(jid)
    figures.notes.update(worn_out=len(worn_out))
    unexplained = [jid for jid in undone if jid not in worn_out]
    assert not unexplained, [(found[j], runs[j], texts[j]) for j in unexplained[:3]]
    assert found[doomed[0]] == "error"
    assert all(found[jid] == "stalled" for jid in doomed[1:])
    assert not unnamed, unnamed
