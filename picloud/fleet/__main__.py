"""``python -m picloud.fleet`` (``make run``): the local fleet in the foreground.

Finds or starts the Redis, writes ``<PICLOUD_HOME>/fleet.json`` so ``import cloud`` finds the
fleet, runs the Procfile's workers under honcho, and undoes all of it on Ctrl-C / SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from honcho.environ import parse_procfile

from picloud import broker
from picloud.exceptions import CloudException
from picloud.fleet.redis_server import RedisServer, find_or_start
from workers.pools import POOLS

REPO = Path(__file__).resolve().parents[2]
PROCFILE = REPO / "Procfile"


def procfile_processes() -> dict[str, str]:
    """The Procfile's processes: name -> command."""
    return dict(parse_procfile(PROCFILE.read_text(encoding="utf-8")).processes)


def refuse_second_fleet() -> None:
    """Raise CloudException if another live fleet owns this PICLOUD_HOME's fleet.json."""
    path = broker.fleet_file()
    try:
        with open(path, encoding="utf-8") as handle:
            owner = int(json.load(handle).get("pid", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return
    if owner and owner != os.getpid() and _alive(owner):
        raise CloudException(f"a local fleet already runs (pid {owner}, {path})")


def write_fleet_file(url: str) -> None:
    """Write fleet.json atomically: {"broker_url": url, "pid": this process}."""
    path = broker.fleet_file()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.{os.getpid()}.tmp"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump({"broker_url": url, "pid": os.getpid()}, handle)
    os.replace(partial, path)


def release_fleet_file() -> None:
    """Remove fleet.json if it is still ours."""
    path = broker.fleet_file()
    try:
        with open(path, encoding="utf-8") as handle:
            if json.load(handle).get("pid") == os.getpid():
                os.remove(path)
    except (OSError, ValueError, AttributeError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _shown(path: str) -> str:
    """``path`` relative to the current directory when it lies under it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def banner(server: RedisServer, processes: dict[str, str]) -> str:
    """What ``make run`` prints before the workers' logs."""
    cores = os.cpu_count() or 1
    rows = []
    for name, command in processes.items():
        pool = POOLS.get(name)
        if pool is None:
            rows.append((name, command, ""))
            continue
        count = f"{pool.concurrency or cores} processes" + ("" if pool.concurrency else " (1/core)")
        limits = f"{count} x {pool.memory_per_child_mb} MB"
        rows.append((name, limits, pool.description))
    width = max((len(limits) for _, limits, _ in rows), default=0)
    pools = [f"{name:<3} {limits:<{width}}  {about}".rstrip() for name, limits, about in rows]
    python = _shown(sys.executable)
    celery = _shown(os.path.join(os.path.dirname(sys.executable), "celery"))
    return "\n".join(
        [
            "picloud local fleet",
            f"  broker  {broker.redact(server.url)}  ({server.origin})",
            *(f"  {'pools' if i == 0 else '':<6}  {line}" for i, line in enumerate(pools)),
            f"  fleet   {broker.fleet_file()}  (how `import cloud` finds this fleet)",
            f"try it from another terminal (in {REPO}):",
            f'  {python} -c "import cloud; print(cloud.result(cloud.call(lambda: 3*3)))"',
            f"  {celery} -A workers inspect active",
            "Ctrl-C stops the fleet.",
        ]
    )


def honcho_env(url: str) -> dict[str, str]:
    """The workers' environment: this venv first on PATH, the repo importable, the broker set."""
    env = dict(os.environ, PICLOUD_BROKER_URL=url)
    env["PATH"] = os.pathsep.join(filter(None, [os.path.dirname(sys.executable), env.get("PATH")]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_honcho(url: str) -> int:
    """Run ``honcho start`` until it exits, forwarding SIGINT/SIGTERM to it; 0 after a signal."""
    command = [sys.executable, "-m", "honcho", "start", "-f", str(PROCFILE), "-d", str(REPO)]
    honcho: list[subprocess.Popen[bytes]] = []
    stopping: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)
        if honcho and honcho[0].poll() is None:
            honcho[0].send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    # Its own session: a Ctrl-C reaches honcho once, through us.
    honcho.append(subprocess.Popen(command, cwd=REPO, env=honcho_env(url), start_new_session=True))
    if stopping:
        honcho[0].send_signal(stopping[0])
    returncode = honcho[0].wait()
    if not stopping:
        print(f"picloud fleet: a process exited (rc={returncode}); honcho stopped the rest")
    return 0 if stopping else returncode


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_signal)  # clean up if stopped while starting
    server: RedisServer | None = None
    try:
        processes = procfile_processes()
        refuse_second_fleet()
        server = find_or_start()
        write_fleet_file(server.url)
        print(banner(server, processes), flush=True)
        returncode = run_honcho(server.url)
        print("picloud local fleet stopped", flush=True)
        return returncode
    except CloudException as exc:
        print(f"picloud fleet: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        release_fleet_file()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
