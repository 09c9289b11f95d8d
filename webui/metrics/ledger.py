"""The ledger's metrics: jobs by pool and status now, jobs finished per pool and status (a
counter: deleting jobs never lowers it) and their runtimes per pool. Two queries whatever the
size of the Job table: the finished-jobs tally (a few rows per pool), and the unfinished jobs
(through the status index; as many rows as jobs are in flight)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from picloud.jobs import JobStatus
from webui.ledger.models import FinishedTally, Job
from workers.pools import POOLS

UNFINISHED = [status.value for status in JobStatus if not status.finished]


@dataclass
class Tally:
    """What the finished-jobs tally says."""

    #: (pool, status) -> jobs that finished so
    finished: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    #: (pool, status) -> of those, the rows the Job table holds now
    held: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    #: pool -> runtime bucket's upper bound -> jobs (not cumulative)
    buckets: dict[str, dict[float, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    #: pool -> their runtimes added up
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def read_tally() -> Tally:
    tally = Tally()
    for pool, status, le, jobs, removed, runtime in FinishedTally.objects.values_list(
        "pool", "status", "le", "jobs", "removed", "runtime"
    ):
        tally.finished[pool, status] += jobs
        tally.held[pool, status] += jobs - removed
        if le:
            tally.buckets[pool][float(le)] += jobs
            tally.seconds[pool] += runtime
    return tally


def unfinished_counts() -> dict[tuple[str, str], int]:
    """``{(pool, status): jobs}`` of the jobs waiting, queued or processing."""
    rows = (
        Job.objects.filter(status__in=UNFINISHED)
        .order_by()
        .values_list("pool", "status")
        .annotate(n=Count("jid"))
    )
    return {(pool, status): n for pool, status, n in rows}


def jobs_family(counts: dict[tuple[str, str], int], pools: Iterable[str]) -> GaugeMetricFamily:
    """``picloud_jobs{pool, status}``: every status of each of ``pools``, zeros included."""
    family = GaugeMetricFamily(
        "picloud_jobs",
        "Jobs in the ledger (the Job table), by pool and status",
        labels=["pool", "status"],
    )
    for pool in sorted(pools):
        for status in JobStatus:
            family.add_metric([pool, status.value], counts.get((pool, status.value), 0))
    return family


def finished_family(tally: Tally) -> CounterMetricFamily:
    counter = CounterMetricFamily(
        "picloud_jobs_finished",
        "Jobs that finished, by pool and status (deleting jobs does not lower it)",
        labels=["pool", "status"],
    )
    for (pool, status), jobs in sorted(tally.finished.items()):
        counter.add_metric([pool, status], jobs)
    return counter


def runtime_family(tally: Tally) -> HistogramMetricFamily:
    """A histogram per pool of the finished jobs that ran, over the buckets the tally holds."""
    histogram = HistogramMetricFamily(
        "picloud_job_runtime_seconds",
        "Runtime of the finished jobs that started, by pool",
        labels=["pool"],
    )
    bounds = sorted({bound for counts in tally.buckets.values() for bound in counts} | {math.inf})
    for pool, counts in sorted(tally.buckets.items()):
        total, cumulative = 0, []
        for bound in bounds:
            total += counts.get(bound, 0)
            cumulative.append((floatToGoString(bound), total))
        histogram.add_metric([pool], cumulative, tally.seconds[pool])
    return histogram


def families() -> tuple[list[Metric], set[str]]:
    """Every ledger metric, and the pools the ledger names (with jobs now or finished once)
    together with the pools of workers/pools.py."""
    tally = read_tally()
    counts = unfinished_counts() | tally.held
    pools = {pool for pool, _ in counts} | set(POOLS)
    return [jobs_family(counts, pools), finished_family(tally), runtime_family(tally)], pools
