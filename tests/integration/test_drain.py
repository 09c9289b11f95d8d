"""SIGTERM drains a worker: the jobs running finish there, the rest of their chunks go back to
the queue, uncharged, and another worker runs them; nothing is lost or run twice."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from picloud.client import Cloud
from tests.faults import jobs
from tests.faults.ledger import Ledger
from tests.services import Worker, keyed_engine, redis_server, wait_until

pytestmark = pytest.mark.slow
N = 320


@pytest.mark.parametrize("restartable", [True, False])
def test_sigterm_drains_a_worker_to_the_others(tmp_path, restartable):
    ledger = Ledger(tmp_path)
    with redis_server() as url:
        draining = Worker(url, "c1", 1, tmp_path)
        draining.wait_ready()
        client = Cloud(keyed_engine(url), lambda: "cluster")
        try:
            # 320 jobs of 20 ms, in chunks of 10 (0.2 s each)
            jids = client.map(
                jobs.work,
                [str(tmp_path)] * N,
                range(N),
                [0.02] * N,
                _restartable=restartable,
            )
            wait_until(lambda: len(ledger.starts()) >= 3, 20, "three jobs started")
            stopped = time.monotonic()
            os.kill(draining.process.pid, signal.SIGTERM)  # the main process only, as systemd
            draining.process.wait(timeout=20)
            took = time.monotonic() - stopped
            ran_there = {r.jid for r in ledger.starts()}
            other = Worker(url, "c1", 2, tmp_path)
            try:
                values = client.result(jids, timeout=60)
                attempts = client.info(jids, ["attempts"])
            finally:
                other.stop()
        finally:
            client.close()
    runs = ledger.executions(jids)
    left = re.search(r"shutting down: (\d+) job\(s\) of chunk \S+ left", draining.log())
    print(
        f"\ndrain: worker gone {took:.1f} s after SIGTERM; ran {len(ran_there)} of {N} jobs, "
        f"left {left.group(1) if left else 0} of its running chunk; "
        f"runs per job {sorted(set(runs.values()))}"
    )
    assert values == [x * x for x in range(N)]
    assert set(runs.values()) == {1}, "a job was lost or ran twice"
    assert left is not None and int(left.group(1)) > 0, "the running chunk was not drained"
    assert 3 <= len(ran_there) < 10
    assert all(info.get("attempts") == 1 for info in attempts.values()), "a job was charged"
