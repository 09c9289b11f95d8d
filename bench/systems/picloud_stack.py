"""The whole `make run` stack: ``python -m picloud.fleet`` (pools c1 c2 m1 s1, the web UI,
the recorder and beat) on a fresh Redis, in a home folder of its own, driven like a user's
script would be, through the key and broker its fleet.json names. B9 here is `make run` to
the first result; B1's and B10's Redis commands include everything the stack runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from bench.systems.picloud_api import PicloudSystem
from bench.systems.processes import group_of, marked, start, stop
from picloud.client import Cloud
from picloud.engines.cluster.engine import ClusterEngine
from picloud.exceptions import NoWorkerWarning
from tests.services import free_port, redis_server, wait_until
from workers.pools import POOLS


class PicloudStack(PicloudSystem):
    """``Cloud(ClusterEngine(broker, key, secret))`` of the fleet's fleet.json."""

    ships_modules = True
    #: B10 counts per worker: `make run` starts one per pool
    workers = len(POOLS)
    note = (
        "picloud-stack: python -m picloud.fleet (4 pools, web, recorder, beat) per scenario, on "
        "a fresh Redis and home; B9 is its start to the first result; raw Celery is measured "
        "alone, not beside it."
    )

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self.redis_url = ""
        self._home = ""
        self._stack = contextlib.ExitStack()

    @property
    def pids(self) -> list[int]:
        """The process groups of everything the fleet started."""
        groups = {group_of(pid) for pid in marked("PICLOUD_HOME", self._home)}
        return sorted(g for g in groups if g is not None)

    def setup(self) -> None:
        stack = self._stack
        self.redis_url = url = stack.enter_context(redis_server())
        self._home = home = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-stack-"))
        env = {
            "PICLOUD_HOME": home,
            "PICLOUD_BROKER_URL": url,
            "PICLOUD_WEB_PORT": str(free_port()),
        }
        launched = time.perf_counter()
        log = Path(home) / "fleet.log"
        fleet = start([sys.executable, "-m", "picloud.fleet"], log, env, clean=True)
        stack.callback(self._stop, fleet)
        fleet_file = Path(home) / "fleet.json"

        def written() -> bool:
            if fleet.poll() is not None:
                raise RuntimeError(f"the fleet exited:\n{log.read_text(errors='replace')}")
            return fleet_file.exists()

        wait_until(written, 120, "fleet.json")
        found = json.loads(fleet_file.read_text())
        key, secret = str(found["api_key"]), str(found["api_secretkey"])
        cloud = Cloud(lambda: ClusterEngine(url, key, secret), lambda: "cluster")
        with warnings.catch_warnings():  # the first call may come before the pools' first beat
            warnings.simplefilter("ignore", NoWorkerWarning)
            self._open(cloud, launched)

    def _stop(self, fleet: subprocess.Popen[bytes]) -> None:
        """SIGTERM the fleet (it stops all it started), then kill what is left."""
        stop(fleet)
        for pid in marked("PICLOUD_HOME", self._home):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        try:
            self._close_cloud()
        finally:
            self._stack.close()
