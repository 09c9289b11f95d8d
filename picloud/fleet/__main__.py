"""``python -m picloud.fleet`` (``make run``): the local fleet in the foreground.

Finds or starts the Redis, prepares the web UI (migrations, admin login, the local API key),
writes ``<PICLOUD_HOME>/fleet.json`` so ``import cloud`` finds the fleet and its key, runs the
Procfile's processes (workers, web UI, recorder, beat) under a supervisor that restarts any one
that exits (picloud.fleet.supervisor), and undoes all of it on Ctrl-C / SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from honcho.environ import parse_procfile

from picloud import broker, config
from picloud.authority import Authority
from picloud.exceptions import CloudException
from picloud.fleet.redis_server import RedisServer, find_or_start, needs_no_password
from picloud.fleet.supervisor import Supervisor
from workers.pools import POOLS

if TYPE_CHECKING:
    from webui.first_run import FirstRun

REPO = Path(__file__).resolve().parents[2]
PROCFILE = REPO / "Procfile"
DEFAULT_WEB_PORT = 8000


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


def write_fleet_file(
    url: str, port: int, api_key: str, api_secretkey: str, fleet_public_key: str
) -> None:
    """Write fleet.json atomically (mode 0600: it holds the local key's secret):
    {"broker_url", "server_url", "api_key", "api_secretkey", "fleet_public_key", "pid"}."""
    path = broker.fleet_file()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.{os.getpid()}.tmp"
    found = {
        "broker_url": url,
        "server_url": f"http://127.0.0.1:{port}/",
        "api_key": api_key,
        "api_secretkey": api_secretkey,
        "fleet_public_key": fleet_public_key,
    }
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({**found, "pid": os.getpid()}, handle)
    os.replace(partial, path)


def web_port() -> int:
    """The web UI's port (PICLOUD_WEB_PORT, default 8000); CloudException if something listens
    on it. SO_REUSEADDR, as gunicorn binds: a last run's connections in TIME_WAIT do not count."""
    port = int(os.environ.get("PICLOUD_WEB_PORT") or DEFAULT_WEB_PORT)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise CloudException(
                f"port {port} for the web UI is in use; set PICLOUD_WEB_PORT to another"
            ) from None
    return port


def prepare_web_ui(url: str) -> FirstRun:
    """Migrate the web UI's database, make the admin login and the local key (first run)."""
    os.environ["PICLOUD_BROKER_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webui.settings")
    config.reload()
    import django

    django.setup()
    from webui import first_run

    return first_run.prepare()


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


def banner(
    server: RedisServer, processes: dict[str, str], port: int, first: FirstRun, authority: str
) -> str:
    """What ``make run`` prints before the processes' logs."""
    cores = os.cpu_count() or 1
    rows = []
    for name in processes:
        pool = POOLS.get(name)
        if pool is not None:
            count = f"{pool.concurrency or cores} processes" + (
                "" if pool.concurrency else " (1/core)"
            )
            rows.append((name, f"{count} x {pool.memory_per_child_mb} MB", pool.description))
    width = max((len(limits) for _, limits, _ in rows), default=0)
    pools = [f"{name:<3} {limits:<{width}}  {about}".rstrip() for name, limits, about in rows]
    others = [name for name in processes if name not in POOLS]
    python = _shown(sys.executable)
    celery = _shown(os.path.join(os.path.dirname(sys.executable), "celery"))
    exposed = (
        [
            "  WARNING this Redis needs no password: jobs (and anything that can reach it) could "
            "read and write the broker; use the embedded one or set a password"
        ]
        if needs_no_password(server.url)
        else []
    )
    login = (
        f"{first.admin_user} / {first.admin_password}  (made now; shown only this once)"
        if first.admin_password
        else f"{first.admin_user}  (made on the first run)"
    )
    return "\n".join(
        [
            "picloud local fleet",
            f"  broker  {broker.redact(server.url)}  ({server.origin})",
            *exposed,
            *(f"  {'pools' if i == 0 else '':<6}  {line}" for i, line in enumerate(pools)),
            f"  also    {', '.join(others)}  (see the Procfile)",
            f"  web UI  http://127.0.0.1:{port}/admin/  (dashboard: /dashboard/)",
            f"  login   {login}",
            f"  key     api_key {first.api_key}  (this machine's local key)",
            f"  fleet   {broker.fleet_file()}  (how `import cloud` finds this fleet and its key)",
            f"  authority  {authority}  (workers on other hosts: PICLOUD_FLEET_PUBLIC_KEY)",
            f"try it from another terminal (in {REPO}):",
            f'  {python} -c "import cloud; print(cloud.result(cloud.call(lambda: 3*3)))"',
            f"  {celery} -A workers inspect active",
            "Ctrl-C stops the fleet.",
        ]
    )


def process_env(url: str, port: int, authority: str) -> dict[str, str]:
    """The processes' environment: this venv first on PATH, the repo importable, the broker,
    the web UI's port and the fleet authority's public key set."""
    env = dict(os.environ, PICLOUD_BROKER_URL=url, PICLOUD_WEB_PORT=str(port))
    env["PICLOUD_FLEET_PUBLIC_KEY"] = authority
    env["PATH"] = os.pathsep.join(filter(None, [os.path.dirname(sys.executable), env.get("PATH")]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_signal)  # clean up if stopped while starting
    server: RedisServer | None = None
    try:
        processes = procfile_processes()
        refuse_second_fleet()
        port = web_port()
        server = find_or_start()
        authority = Authority.load_or_create().public_key  # made once, kept in PICLOUD_HOME
        first = prepare_web_ui(server.url)
        write_fleet_file(server.url, port, first.api_key, first.api_secretkey, authority)
        print(banner(server, processes, port, first, authority), flush=True)
        # until SIGINT or SIGTERM, restarting any process that exits; then stops them all
        env = process_env(server.url, port, authority)
        Supervisor(processes, env=env, cwd=REPO).run()
        print("picloud local fleet stopped", flush=True)
        return 0
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
