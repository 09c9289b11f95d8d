"""The scenarios (B1 latency, B3 map throughput, B2 submit-only, B4 efficiency, B5 payloads, B6
function shipping, B7 fan-in, B9 cold start, B10 idle) and the loop that runs each on every
system, a fresh system per scenario."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import cloudpickle

from bench import observe
from bench.project import project_function
from bench.systems.base import Func, System
from bench.workloads import SLEEPS, length, square, text_of


@dataclass(frozen=True)
class Target:
    """A goal for picloud's value: at most (lower is better) or at least ``value``; with
    ``peer``, for its ratio to that peer's value in the same run."""

    value: float
    higher_is_better: bool
    peer: str | None = None

    def met(self, value: float | None, peer_value: float | None = None) -> bool | None:
        if value is None or (self.peer is not None and not peer_value):
            return None
        if self.peer is not None:
            assert peer_value is not None
            value = value / peer_value
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
    #: what it is made of, for the report's notes (e.g. the commands counted)
    text: str = ""


@dataclass(frozen=True)
class Config:
    """Sizes of one run."""

    procs: int
    latency_calls: int = 1_000
    warmup: int = 20
    map_sizes: tuple[int, ...] = (10_000, 100_000)
    repeats: int = 3
    submit_n: int = 10_000
    #: B4: ms per job -> jobs (ideal seconds = ms * jobs / 1000 / procs)
    sleep_jobs: dict[int, int] = field(default_factory=lambda: {1: 6_000, 10: 600, 100: 60})
    #: B5: payload sizes (bytes) and round trips per size
    payload_sizes: tuple[int, ...] = (1_000, 100_000, 1_000_000, 10_000_000)
    payload_calls: int = 10
    #: B7: results collected at once
    fan_in_n: int = 10_000
    #: B10: seconds of idle observed
    idle_seconds: float = 10.0
    #: B6's function: defined in ``__main__``, so cloudpickle ships it by value
    shipped: Func = square
    #: metric key -> target for the measured system
    targets: dict[str, Target] = field(default_factory=lambda: dict(LOCAL_TARGETS))

    @classmethod
    def quick(cls, procs: int) -> Config:
        """The ``--quick`` sizes: a smoke check in a few seconds."""
        return cls(
            procs,
            latency_calls=200,
            map_sizes=(1_000,),
            submit_n=1_000,
            sleep_jobs={1: 400, 10: 60, 100: 6},
            payload_sizes=(1_000, 1_000_000),
            payload_calls=3,
            fan_in_n=1_000,
            idle_seconds=2.0,
        )

    @classmethod
    def cluster(cls, procs: int, system: str, quick: bool = False) -> Config:
        """Sizes and targets of a cluster comparison led by ``system`` (picloud-cluster
        against Celery, Dask, RQ; picloud-http against picloud-cluster)."""
        base = cls.quick(procs) if quick else cls(procs, map_sizes=(10_000, 100_000))
        targets = CLUSTER_TARGETS_BY_SYSTEM.get(system, CLUSTER_TARGETS)
        return replace(base, targets=dict(targets))


#: the simulator's targets: B1 <= 1.2x mp.Pool, B3 at 100k >= 200k items/s
LOCAL_TARGETS = {
    "B1.p50": Target(1.2, False, "multiprocessing"),
    "B3.n100000": Target(200_000, True),
    "B9.first": Target(0.1, False),
}
#: the cluster's targets, after the benchmark issue: ratios to raw Celery in the same run
CLUSTER_TARGETS = {
    "B1.p50": Target(0.5, False, "celery-raw"),
    "B1.p99": Target(0.5, False, "celery-raw"),
    "B1.cmds": Target(15, False),
    "B3.n10000": Target(2.5, True, "celery-raw"),
    "B3.n100000": Target(2.5, True, "celery-raw"),
    "B4.ms1": Target(70, True),
    "B4.ms10": Target(95, True),
    "B4.ms100": Target(99, True),
    "B5.arg10000000": Target(0.5, False, "celery-raw"),
    "B5.result10000000": Target(0.5, False, "celery-raw"),
    "B7.fan_in": Target(50, False),
    "B10.cmds": Target(2, False),
    "B10.cpu": Target(1, False),
}
#: the HTTP transport's targets (the HTTP-client issue): ratios to the direct-broker client
HTTP_TARGETS = {
    "B1.p50": Target(2, False, "picloud-cluster"),
    "B3.n10000": Target(0.5, True, "picloud-cluster"),
}
#: the whole `make run` stack's: the cluster's, and `make run` to the first result <= 10 s
STACK_TARGETS = {**CLUSTER_TARGETS, "B9.first": Target(10, False)}
#: the targets of the systems measured with the cluster sizes
CLUSTER_TARGETS_BY_SYSTEM = {"picloud-http": HTTP_TARGETS, "picloud-stack": STACK_TARGETS}


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
    ] + [
        Metric(
            "B1.cmds",
            "B1",
            "B1 Redis commands per call+result (worker and client)",
            "cmds",
            False,
            config.targets.get("B1.cmds"),
        )
    ]


def _b1_measure(system: System, config: Config) -> Results:
    url = getattr(system, "redis_url", "")
    counter = observe.Commands(url) if url else None
    before = counter.now() if counter else None
    times = system.call_latency(square, config.latency_calls, config.warmup)
    out = {}
    if times is not None:
        ordered = sorted(t * 1e3 for t in times)
        out = {f"B1.p{p}": Measurement(_percentile(ordered, p)) for p in _PCTS}
    if counter is not None and before is not None:
        calls = config.latency_calls + config.warmup
        used = observe.delta(before, counter.now())
        counter.close()
        out["B1.cmds"] = Measurement(sum(used.values()) / calls, text=observe.top(used, calls))
    return out


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


def _capped(system: System, n: int, cap: str = "max_n") -> tuple[int, str]:
    """The size a system measures for ``n`` (a slow one caps it: attribute ``cap``) and the
    note that says so."""
    size = min(n, getattr(system, cap, n))
    return size, f"at n={size:,}" if size < n else ""


def _b3_measure(system: System, config: Config) -> Results:
    out = {}
    # a slow system may cap its timed runs (``max_repeats``)
    repeats = min(config.repeats, getattr(system, "max_repeats", config.repeats))
    for n in config.map_sizes:
        size, text = _capped(system, n)
        if text and out:
            break  # measured once at the cap
        measured = _rates(lambda k: system.map_throughput(square, k), size, repeats)
        if measured is not None:
            out[f"B3.n{n}"] = replace(measured, text=text)
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
    if not getattr(system, "ships_modules", False):
        return {}  # forked workers (the simulator, mp.Pool) import what the client had then
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


# --- B4: efficiency of maps of sleeping jobs ---------------------------------------------------
def _b4_metrics(config: Config) -> list[Metric]:
    return [
        Metric(
            f"B4.ms{ms}",
            "B4",
            f"B4 efficiency, {n:,} jobs of {ms} ms (ideal {ms * n / 1000 / config.procs:.1f} s)",
            "%",
            True,
            config.targets.get(f"B4.ms{ms}"),
        )
        for ms, n in config.sleep_jobs.items()
    ]


def _b4_measure(system: System, config: Config) -> Results:
    out = {}
    for ms, n in config.sleep_jobs.items():
        size, text = _capped(system, n)
        seconds = system.map_throughput(SLEEPS[ms], size)
        if seconds is not None:
            ideal = ms * size / 1000 / config.procs
            out[f"B4.ms{ms}"] = Measurement(100 * ideal / seconds, text=text)
    return out


# --- B5: payloads as argument and as result ----------------------------------------------------
def _size(n: int) -> str:
    return f"{n // 1_000_000} MB" if n >= 1_000_000 else f"{n // 1_000} KB"


def _b5_metrics(config: Config) -> list[Metric]:
    out = []
    for way in ("arg", "result"):
        for n in config.payload_sizes:
            key = f"B5.{way}{n}"
            label = f"B5 {_size(n)} as {'argument' if way == 'arg' else 'result'}: p50"
            out.append(Metric(key, "B5", label, "ms", False, config.targets.get(key)))
    return out


def _b5_measure(system: System, config: Config) -> Results:
    call_with = getattr(system, "call_with", None)
    if call_with is None:
        return {}
    out = {}
    for func, arg in ((length, "x"), (text_of, 1)):  # warm: both functions stored and loaded
        call_with(func, arg, config.warmup)
    for n in config.payload_sizes:
        calls = max(3, config.payload_calls // (10 if n >= 10_000_000 else 1))
        for way, func, arg in (("arg", length, "x" * n), ("result", text_of, n)):
            times = call_with(func, arg, calls)
            if times is not None:
                out[f"B5.{way}{n}"] = Measurement(statistics.median(times) * 1e3)
    return out


# --- B7: fan-in ---------------------------------------------------------------------------------
def _b7_metrics(config: Config) -> list[Metric]:
    label = f"B7 collect {config.fan_in_n:,} finished results (per 10k, median of {config.repeats})"
    return [Metric("B7.fan_in", "B7", label, "ms", False, config.targets.get("B7.fan_in"))]


def _b7_measure(system: System, config: Config) -> Results:
    """The median of ``repeats`` fan-ins, each of a fresh map (a result read twice may come
    from a cache)."""
    fan_in = getattr(system, "fan_in", None)
    if fan_in is None:
        return {}
    n, text = _capped(system, config.fan_in_n, "max_fan_in")
    repeats = min(config.repeats, getattr(system, "max_repeats", config.repeats))
    times = []
    for _ in range(repeats):
        gc.collect()
        seconds = fan_in(square, n)
        if seconds is None:
            break
        times.append(seconds * 1e3 * 10_000 / n)
    if not times:
        return {}
    detail = {"min": min(times), "max": max(times), "runs": len(times)}
    return {"B7.fan_in": Measurement(statistics.median(times), detail, text=text)}


# --- B9: cold start -----------------------------------------------------------------------------
def _b9_metrics(config: Config) -> list[Metric]:
    label = "B9 cold start: workers launched to first result"
    return [Metric("B9.first", "B9", label, "s", False, config.targets.get("B9.first"))]


def _b9_measure(system: System, config: Config) -> Results:
    seconds = getattr(system, "first_result_s", None)
    return {} if seconds is None else {"B9.first": Measurement(seconds)}


# --- B10: idle ----------------------------------------------------------------------------------
def _b10_metrics(config: Config) -> list[Metric]:
    seconds = f"{config.idle_seconds:g} s"
    return [
        Metric(
            "B10.cmds",
            "B10",
            f"B10 idle {seconds}: Redis commands/s per worker",
            "cmds",
            False,
            config.targets.get("B10.cmds"),
        ),
        Metric(
            "B10.cpu",
            "B10",
            f"B10 idle {seconds}: CPU per worker",
            "%",
            False,
            config.targets.get("B10.cpu"),
        ),
    ]


def _b10_measure(system: System, config: Config) -> Results:
    url, pids = getattr(system, "redis_url", ""), getattr(system, "pids", [])
    if not url or not pids:
        return {}
    counter = observe.Commands(url)
    time.sleep(min(2.0, config.idle_seconds))  # what the warm-up left settles
    before, cpu = counter.now(), observe.cpu_seconds(pids)
    time.sleep(config.idle_seconds)
    used = observe.delta(before, counter.now())
    counter.close()
    per = config.idle_seconds * getattr(system, "workers", len(pids))
    return {
        "B10.cmds": Measurement(sum(used.values()) / per, text=observe.top(used, per)),
        "B10.cpu": Measurement(100 * (observe.cpu_seconds(pids) - cpu) / per),
    }


SCENARIOS: list[Scenario] = [
    Scenario("B1", "call + result latency", _b1_metrics, _b1_measure),
    Scenario("B3", "map + result throughput", _b3_metrics, _b3_measure),
    Scenario("B2", "submit only", _b2_metrics, _b2_measure),
    Scenario("B6", "function shipping", _b6_metrics, _b6_measure, _b6_notes),
    Scenario("B6P", "a project's own modules shipped", _b6p_metrics, _b6p_measure),
    Scenario("B4", "efficiency of short jobs", _b4_metrics, _b4_measure),
    Scenario("B5", "payloads", _b5_metrics, _b5_measure),
    Scenario("B7", "fan-in", _b7_metrics, _b7_measure),
    Scenario("B9", "cold start", _b9_metrics, _b9_measure),
    Scenario("B10", "idle", _b10_metrics, _b10_measure),
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
