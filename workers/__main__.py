"""The one documented command line that starts a worker pool: ``python -m workers c1``.

``python -m workers c2.myenv --concurrency 4`` execs ``celery -A workers worker -Q c2.myenv ...``
with the pool's limits from workers/pools.py; ``--autoscale 2,8`` lets Celery keep between 2 and
8 processes instead; ``--print`` shows that command instead of running it."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys

from workers.pools import POOLS, worker_command


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m workers",
        description="Start a Celery worker for one pool (its limits come from workers/pools.py).",
    )
    parser.add_argument("queue", help=f"a pool ({', '.join(POOLS)}) or pool.env, e.g. c2.myenv")
    parser.add_argument(
        "--concurrency", type=int, metavar="N", help="worker processes (default: the pool's)"
    )
    parser.add_argument(
        "--autoscale",
        type=_autoscale,
        metavar="MIN,MAX",
        help="between MIN and MAX processes, as the load asks (Celery's --autoscale)",
    )
    parser.add_argument("--print", action="store_true", help="print the command, do not run it")
    args = parser.parse_args(argv)
    if args.queue.split(".", 1)[0] not in POOLS:
        parser.error(f"unknown pool in {args.queue!r}; pools are {', '.join(POOLS)}")
    if args.concurrency is not None and args.concurrency < 0:
        parser.error("--concurrency must be 0 (one per CPU core) or more")
    if args.concurrency is not None and args.autoscale is not None:
        parser.error("give --concurrency or --autoscale, not both")
    return args


def _autoscale(text: str) -> tuple[int, int]:
    """``"MIN,MAX"`` -> (MIN, MAX), with 1 <= MIN <= MAX."""
    low, _, high = text.partition(",")
    try:
        least, most = int(low), int(high)
    except ValueError:
        least = most = 0
    if not 1 <= least <= most:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN,MAX with 1 <= MIN <= MAX")
    return least, most


def _celery() -> str:
    """The ``celery`` next to this interpreter (a venv's), else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "celery")
    return beside if os.access(beside, os.X_OK) else shutil.which("celery") or "celery"


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    command = worker_command(args.queue, args.concurrency, args.autoscale)
    if args.print:
        print(shlex.join(command))
        return
    sys.stdout.flush()
    os.execvp(_celery(), [_celery(), *command[1:]])


if __name__ == "__main__":
    main()
