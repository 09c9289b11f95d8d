"""picloud's local engine (the simulator) through the ``Cloud`` API."""

from __future__ import annotations

import time

from bench.systems.picloud_api import PicloudSystem
from picloud.client import Cloud
from picloud.engines.local.engine import LocalEngine


class PicloudLocal(PicloudSystem):
    """``Cloud(LocalEngine(num_procs, connection_type))``: call/map/result."""

    def __init__(self, procs: int, connection_type: str = "simulation") -> None:
        self.procs = procs
        self.connection_type = connection_type

    def setup(self) -> None:
        procs, kind = self.procs, self.connection_type
        launched = time.perf_counter()
        engine = lambda: LocalEngine(num_procs=procs, connection_type=kind)  # noqa: E731
        self._open(Cloud(engine, lambda: kind), launched)

    def close(self) -> None:
        self._close_cloud()
