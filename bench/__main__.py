"""``python -m bench``: run the scenarios on picloud and its peers, print the table."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

from bench import report
from bench.scenarios import SCENARIOS, Config, run_scenarios
from bench.systems import CLUSTER_SYSTEMS, COMPARISONS, SYSTEMS
from picloud import config as picloud_config

#: picloud's max_transmit_data during a run (PiCloud's default, 1 MB, is below B5's 10 MB)
PAYLOAD_LIMIT = 64_000_000


def shipped_square(x: int) -> int:
    """B6's function. Defined in ``__main__``, so cloudpickle ships it by value, as it would a
    function of a user's script."""
    return x * x


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--procs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes of every system (default: the number of cores)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of each map size (default: 3)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--markdown",
        metavar="PATH",
        help="write the tables as Markdown (default: BENCHMARKS.md for a full default run)",
    )
    comparisons = "; ".join(f"{s} vs {', '.join(p)}" for s, p in COMPARISONS.items())
    parser.add_argument(
        "--system",
        choices=sorted(SYSTEMS),
        help=f"the system measured (default: every comparison: {comparisons})",
    )
    parser.add_argument(
        "--peers",
        help=f"comma-separated peers to compare with (of: {', '.join(sorted(SYSTEMS))}; "
        "default: the system's usual peers)",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(s.id for s in SCENARIOS),
        help="comma-separated scenario ids (default: all)",
    )
    args = parser.parse_args(argv)
    args.default_run = args.system is None and args.peers is None
    if args.default_run:
        args.comparisons = list(COMPARISONS.items())
    else:
        system = args.system or "picloud-local"
        peers = COMPARISONS.get(system, []) if args.peers is None else args.peers.split(",")
        args.comparisons = [(system, [p.strip() for p in peers if p.strip()])]
    args.peers = [p for _, peers in args.comparisons for p in peers]
    for peer in args.peers:
        if peer not in SYSTEMS:
            parser.error(f"unknown peer {peer!r}; choose from {', '.join(sorted(SYSTEMS))}")
    known = {s.id for s in SCENARIOS}
    args.scenarios = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    for scenario in args.scenarios:
        if scenario not in known:
            parser.error(f"unknown scenario {scenario!r}; choose from {', '.join(sorted(known))}")
    if args.procs < 1 or args.repeats < 1:
        parser.error("--procs and --repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    picloud_config.apply(max_transmit_data=PAYLOAD_LIMIT)  # B5 sends 10 MB arguments
    procs, started = args.procs, time.perf_counter()
    scenarios = [s for s in SCENARIOS if s.id in args.scenarios]
    mode = "quick" if args.quick else "full"
    env = report.environment()

    def progress(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    runs = []
    for system, peers in args.comparisons:
        if system in CLUSTER_SYSTEMS:
            base = Config.cluster(procs, system, quick=args.quick)
        else:
            base = Config.quick(procs) if args.quick else Config(procs)
        config = dataclasses.replace(base, repeats=args.repeats, shipped=shipped_square)
        names = [system, *(p for p in peers if p != system)]
        factories = {name: SYSTEMS[name] for name in names}
        runs.append(run_scenarios(scenarios, factories, config, progress))
    print(report.header(env, runs[0], mode))
    for run in runs:
        print()
        print(report.table(run))
    if len(runs) > 1:
        print(f"\nwhole run: {time.perf_counter() - started:.1f} s")
    markdown = args.markdown
    every = len(scenarios) == len(SCENARIOS)
    if markdown is None and args.default_run and every and not args.quick:
        markdown = "BENCHMARKS.md"
    if markdown:
        command = "make bench" if markdown == "BENCHMARKS.md" else "python -m bench"
        with open(markdown, "w", encoding="utf-8") as handle:
            handle.write(report.markdown(env, runs, mode, command))
        print(f"tables written to {markdown}")
    if args.json:
        data = [report.to_json(env, run, mode) for run in runs]
        report.write_json(args.json, data[0] if len(data) == 1 else {"comparisons": data})
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
