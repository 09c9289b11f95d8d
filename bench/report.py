"""The run's header (versions, CPU, date), the side-by-side table, and the JSON file."""

from __future__ import annotations

import datetime
import json
import os
import platform
from dataclasses import asdict
from importlib import metadata
from typing import Any

from bench.scenarios import Measurement, Metric, Run


def environment() -> dict[str, Any]:
    """Versions, CPU model, core count and the date."""
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "picloud": _version("picloud"),
        "cloudpickle": _version("cloudpickle"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "loadavg_1min": _load(),
    }


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def header(env: dict[str, Any], run: Run, mode: str) -> str:
    return "\n".join(
        [
            f"picloud benchmark  {env['date']}",
            f"python {env['python']} | picloud {env['picloud']} | cloudpickle {env['cloudpickle']}",
            f"CPU: {env['cpu']} | cores: {env['cores']} | worker processes: {run.config.procs}"
            f" | mode: {mode} | load avg (1 min) at start: {env['loadavg_1min']}",
        ]
    )


def _number(value: float, unit: str) -> str:
    if unit in ("items/s", "jobs/s"):
        return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.1f}k"
    if unit in ("ms", "s"):
        return f"{value:.3f}" if value < 100 else f"{value:.0f}"
    return f"{value:.1f}"


def _cell(measurement: Measurement | None, unit: str) -> str:
    if measurement is None or measurement.value is None:
        return "n/a"
    text = _number(measurement.value, unit)
    if "min" in measurement.detail:
        low, high = measurement.detail["min"], measurement.detail["max"]
        text += f" [{_number(low, unit)}-{_number(high, unit)}]"
    return text


def ratio(metric: Metric, ours: Measurement | None, peer: Measurement | None) -> float | None:
    """picloud / peer (above 1 means picloud has more of the unit: good for rates)."""
    if ours is None or peer is None or ours.value is None or not peer.value:
        return None
    return ours.value / peer.value


def _target(metric: Metric) -> str:
    target = metric.target
    if target is None:
        return ""
    sign = ">=" if target.higher_is_better else "<="
    if target.peer is not None:
        return f"{sign} {target.value:g}x {target.peer}"
    return f"{sign} {_number(target.value, metric.unit)}"


def met(run: Run, metric: Metric) -> bool | None:
    """Whether the measured system met the row's target (None: no target, or not measured)."""
    if metric.target is None:
        return None
    values = run.values.get(metric.key, {})
    ours = values.get(run.systems[0])
    peer = values.get(metric.target.peer) if metric.target.peer else None
    return metric.target.met(ours.value if ours else None, peer.value if peer else None)


def rows(run: Run) -> list[list[str]]:
    """The table's cells: scenario | picloud | each peer with its ratio | target | met?"""
    subject, *peers = run.systems
    out = []
    for metric in run.metrics:
        values = run.values.get(metric.key, {})
        ours = values.get(subject)
        cells = [f"{metric.label} [{metric.unit}]", _cell(ours, metric.unit)]
        for peer in peers:
            factor = ratio(metric, ours, values.get(peer))
            cells += [
                _cell(values.get(peer), metric.unit),
                "-" if factor is None else f"{factor:.2f}x",
            ]
        ok = met(run, metric)
        verdict = "" if metric.target is None else {None: "?", True: "yes", False: "NO"}[ok]
        out.append([*cells, _target(metric), verdict])
    return out


def details(run: Run) -> list[str]:
    """The notes measurements carry (commands counted, a smaller size measured)."""
    out = []
    for metric in run.metrics:
        for name, measurement in run.values.get(metric.key, {}).items():
            if measurement.text:
                out.append(f"{metric.key} {name}: {measurement.text}")
    return out


def _head(run: Run) -> list[str]:
    subject, *peers = run.systems
    head = ["scenario", subject]
    for peer in peers:
        head += [peer, "ratio"]
    return [*head, "target", "met?"]


def notes(run: Run) -> list[str]:
    return [
        "ratio = picloud / peer, in the row's unit: for ms, s, cmds lower is better, "
        "for /s and % higher.",
        *run.notes,
        *details(run),
        f"total benchmark time: {run.seconds:.1f} s",
    ]


def table(run: Run) -> str:
    head = _head(run)
    body = rows(run)
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    align = ["<"] + [">"] * (len(head) - 2) + ["<"]

    def line(cells: list[str]) -> str:
        return " | ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *map(line, body), "", *notes(run)])


def markdown(env: dict[str, Any], runs: list[Run], mode: str, command: str) -> str:
    """BENCHMARKS.md: the header, then each comparison's table and notes."""
    out = [
        "# picloud benchmarks",
        "",
        f"Written by `{command}` on {env['date']}; every figure below is from that one run, "
        "each system on a fresh Redis (redis-server, no persistence) with the same number of "
        "worker processes. A value is the median of its runs, [min-max] when there were "
        "several. Ratios are picloud / peer, measured side by side; only those are claims.",
        "",
        f"- machine: {env['cpu']}, {env['cores']} cores, {env['platform']}",
        f"- load average (1 min) at start: {env['loadavg_1min']}",
        f"- python {env['python']}, picloud {env['picloud']}, cloudpickle {env['cloudpickle']}, "
        + ", ".join(f"{p} {_version(p)}" for p in ("celery", "redis", "dask", "rq")),
        f"- mode: {mode}, worker processes: {runs[0].config.procs}",
    ]
    for run in runs:
        head, body = _head(run), rows(run)
        out += ["", f"## {run.systems[0]} vs {', '.join(run.systems[1:])}", ""]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join("---" for _ in head) + "|")
        out += ["| " + " | ".join(cell.replace("|", "/") for cell in r) + " |" for r in body]
        out += ["", *(f"- {note}" for note in notes(run))]
    return "\n".join(out) + "\n"


def to_json(env: dict[str, Any], run: Run, mode: str) -> dict[str, Any]:
    subject, *peers = run.systems
    config = asdict(run.config)
    shipped = config.pop("shipped")
    config["shipped"] = f"{shipped.__module__}.{shipped.__qualname__}"
    out_rows = []
    for metric in run.metrics:
        values = run.values.get(metric.key, {})
        ours = values.get(subject)
        out_rows.append(
            {
                **asdict(metric),
                "values": {name: {"value": m.value, **m.detail} for name, m in values.items()},
                "ratio": {p: ratio(metric, ours, values.get(p)) for p in peers},
                "met": met(run, metric),
            }
        )
    return {
        "environment": env,
        "mode": mode,
        "config": config,
        "systems": run.systems,
        "rows": out_rows,
        "notes": run.notes,
        "seconds": run.seconds,
    }


def write_json(path: str, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
