"""The scenarios (B1 latency, B3 map throughput, B2 submit-only, B6 function shipping) and the
loop that runs each on every system, a fresh system per scenario."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import cloudpickle

from bench.project import project_function
from bench.systems.base import Func, System
from bench.workloads import square


@dataclass(frozen=True)
class Target:
    """A goal for picloud's value: at most (lower is better) or at least ``value``."""

    value: float
    higher_is_better: bool

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.value if self.higher_is_better else value <= self.value


@dataclass(frozen=True)
class Metric:
    """One row of the table."""

    key: str
    scenario: str
    label: str
    unit: str
    higher_is_better: bool
    target: Target | None = None


@dataclass(frozen=True)
class Measurement:
    """A system's value for one metric, with extra numbers (min, max, …) for the report."""

    value: float | None
    detail: dict[str, float] = field(default_factory=dict)
    #: the row of a metric only some systems have (e.g. Celery's ``group`` map)
    metric: Metric | None = None


@dataclass(frozen=True)
class Config:
    """Sizes of one run."""

    procs: int
    latency_calls: int = 1_000
    warmup: int = 20
    map_sizes: tuple[int, ...] = (10_000, 100_000)
    repeats: int = 3
    submit_n: int = 10_000
    #: B6's function: defined in ``__main__``, so cloudpickle ships it by value
    shipped: Func = square
    #: metric key -> target for the measured system
    targets: dict[str, Target] = field(default_factory=lambda: dict(LOCAL_TARGETS))

    @classmethod
    def quick(cls, procs: int) -> Config:
        """The ``--quick`` sizes: a smoke check in a few seconds."""
        return cls(procs, latency_calls=200, map_sizes=(1_000,), submit_n=1_000)

    @classmethod
    def cluster(cls, procs: int, quick: bool = False) -> Config:
        """Sizes and targets of the cluster comparison (picloud-cluster, Celery, Dask): B3 at
        n = 10,000 only, as the peers take seconds per 10,000 jobs."""
        base = cls.quick(procs) if quick else cls(procs, map_sizes=(10_000,))
        return replace(base, targets=dict(CLUSTER_TARGETS))


LOCAL_TARGETS = {"B1.p50": Target(0.3, False), "B3.n100000": Target(200_000, True)}
CLUSTER_TARGETS = {
    "B1.p50": Target(1.0, False),
    "B2.map": Target(50_000, True),
    "B3.n10000": Target(30_000, True),
}


Results = dict[str, Measurement]


@dataclass(frozen=True)
class Scenario:
    """Metrics measured together by one function on one freshly set-up system."""

    id: str
    title: str
    metrics: Callable[[Config], list[Metric]]
    measure: Callable[[System, Config], Results]
    notes: Callable[[Config], list[str]] = lambda config: []


def _percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, round(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# --- B1: call + result latency -----------------------------------------------------------------
_PCTS = (50, 95, 99)


def _b1_metrics(config: Config) -> list[Metric]:
    return [
        Metric(
            f"B1.p{p}",
            "B1",
            f"B1 call+result p{p} ({config.latency_calls} seq.)",
            "ms",
            False,
            config.targets.get(f"B1.p{p}"),
        )
        for p in _PCTS
    ]


def _b1_measure(system: System, config: Config) -> Results:
    times = system.call_latency(square, config.latency_calls, config.warmup)
    if times is None:
        return {}
    ordered = sorted(t * 1e3 for t in times)
    return {f"B1.p{p}": Measurement(_percentile(ordered, p)) for p in _PCTS}


# --- B3: map + result throughput ---------------------------------------------------------------
def _b3_metrics(config: Config) -> list[Metric]:
    return [
        Metric(
            f"B3.n{n}",
            "B3",
            f"B3 map+result n={n:,} (median of {config.repeats})",
            "items/s",
            True,
            config.targets.get(f"B3.n{n}"),
        )
        for n in config.map_sizes
    ]


def _rates(timed: Callable[[int], float | None], n: int, repeats: int) -> Measurement | None:
    """Median rate of ``repeats`` timed runs of size ``n``, after an untimed warm-up."""
    timed(min(n, 1_000))  # warm-up, not timed
    rates = []
    for _ in range(repeats):
        gc.collect()
        seconds = timed(n)
        if seconds is None:
            break
        rates.append(n / seconds)
    if not rates:
        return None
    detail = {"min": min(rates), "max": max(rates), "runs": len(rates)}
    return Measurement(statistics.median(rates), detail)


def _b3_measure(system: System, config: Config) -> Results:
    out = {}
    # a slow system may cap its timed runs (``max_repeats``)
    repeats = min(config.repeats, getattr(system, "max_repeats", config.repeats))
    for n in config.map_sizes:
        measured = _rates(lambda k: system.map_throughput(square, k), n, repeats)
        if measured is not None:
            out[f"B3.n{n}"] = measured
    # variants only some systems have: ``extra_maps()`` -> [(key, label, n)]
    extra_maps = getattr(system, "extra_maps", lambda: [])
    for key, label, n in extra_maps():
        size = min(n, max(config.map_sizes))

        def timed(k: int, key: str = key) -> float | None:
            return system.map_variant(key, square, k)  # type: ignore[attr-defined]

        measured = _rates(timed, size, repeats)
        if measured is not None:
            label = f"{label} n={size:,} (median of {repeats})"
            metric = Metric(key, "B3", label, "items/s", True)
            out[key] = replace(measured, metric=metric)
    return out


# --- B2: submit only ---------------------------------------------------------------------------
def _b2_metrics(config: Config) -> list[Metric]:
    n = config.submit_n
    return [
        Metric(
            "B2.map", "B2", f"B2 map submit n={n:,}", "jobs/s", True, config.targets.get("B2.map")
        ),
        Metric("B2.call", "B2", f"B2 call submit loop x{n:,}", "jobs/s", True),
    ]


def _b2_measure(system: System, config: Config) -> Results:
    n, out = config.submit_n, {}
    gc.collect()
    seconds = system.submit_map(square, n)
    if seconds is not None:
        out["B2.map"] = Measurement(n / seconds)
    gc.collect()
    seconds = system.submit_calls(square, n)
    if seconds is not None:
        out["B2.call"] = Measurement(n / seconds)
    return out


# --- B6: shipping a __main__ function ----------------------------------------------------------
def _b6_metrics(config: Config) -> list[Metric]:
    label = f"B6 call submit, __main__ fn x{config.submit_n:,}"
    return [Metric("B6.call", "B6", label, "us/call", False)]


def _b6_measure(system: System, config: Config) -> Results:
    gc.collect()
    seconds = system.submit_calls(config.shipped, config.submit_n)
    if seconds is None:
        return {}
    return {"B6.call": Measurement(seconds / config.submit_n * 1e6)}


def _b6_notes(config: Config) -> list[str]:
    func, rounds = config.shipped, 200
    blob = cloudpickle.dumps(func)
    start = time.perf_counter()
    for _ in range(rounds):
        cloudpickle.dumps(func)
    micros = (time.perf_counter() - start) / rounds * 1e6
    how = "by value" if getattr(func, "__module__", None) == "__main__" else "by reference"
    return [
        f"B6: {func.__module__}.{func.__qualname__} pickles {how} ({len(blob)} bytes); "
        f"cloudpickle.dumps of it alone takes {micros:.1f} us, paid per call without a cache."
    ]


def _b6p_metrics(config: Config) -> list[Metric]:
    return [
        Metric("B6P.first", "B6", "B6 project (20 modules): first call+result", "ms", False),
        Metric(
            "B6P.p50",
            "B6",
            f"B6 project: call+result p50 ({config.latency_calls} seq.)",
            "ms",
            False,
        ),
    ]


def _b6p_measure(system: System, config: Config) -> Results:
    with project_function() as work:
        start = time.perf_counter()
        first = system.call_latency(work, 1, 0)
        if first is None:
            return {}
        first_ms = (time.perf_counter() - start) * 1e3
        times = system.call_latency(work, config.latency_calls, config.warmup)
    assert times is not None
    median = sorted(t * 1e3 for t in times)[len(times) // 2]
    return {"B6P.first": Measurement(first_ms), "B6P.p50": Measurement(median)}


SCENARIOS: list[Scenario] = [
    Scenario("B1", "call + result latency", _b1_metrics, _b1_measure),
    Scenario("B3", "map + result throughput", _b3_metrics, _b3_measure),
    Scenario("B2", "submit only", _b2_metrics, _b2_measure),
    Scenario("B6", "function shipping", _b6_metrics, _b6_measure, _b6_notes),
    Scenario("B6P", "a project's own modules shipped", _b6p_metrics, _b6p_measure),
]


@dataclass
class Run:
    """Everything one benchmark run measured."""

    config: Config
    systems: list[str]
    metrics: list[Metric] = field(default_factory=list)
    #: metric key -> system name -> measurement
    values: dict[str, dict[str, Measurement]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_scenarios(
    scenarios: list[Scenario],
    factories: dict[str, Callable[[int], System]],
    config: Config,
    progress: Callable[[str], Any] = lambda line: None,
) -> Run:
    """Run every scenario on a fresh instance of every system (first = picloud, then peers)."""
    started = time.perf_counter()
    run = Run(config, list(factories))
    for scenario in scenarios:
        metrics = scenario.metrics(config)
        known = {metric.key for metric in metrics}
        for name, factory in factories.items():
            progress(f"{scenario.id} {scenario.title}: {name} ...")
            system = factory(config.procs)
            note = getattr(system, "note", None)
            if note and note not in run.notes:
                run.notes.append(note)
            try:
                system.setup()
                for key, measurement in scenario.measure(system, config).items():
                    run.values.setdefault(key, {})[name] = measurement
                    if key not in known and measurement.metric is not None:
                        known.add(key)
                        metrics.append(measurement.metric)
            finally:
                system.close()
        run.metrics.extend(metrics)
        run.notes.extend(scenario.notes(config))
    run.seconds = time.perf_counter() - started
    return run
