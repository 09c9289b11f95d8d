"""A local job's cloud calls, sent to the engine that runs it (PiCloud's simulator did so): the
child's ``ParentLink`` asks over the worker's pipe, the engine answers each call from a thread
of its own (a call may wait), with ``picloud.engines.relay`` doing the work on both sides."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from picloud.engines import relay
from picloud.engines.base import Engine


class ParentLink:
    """In a worker process: the transport of its jobs' RelayEngine. Messages for the worker
    itself that come meanwhile (skips, stop) go to ``aside``."""

    def __init__(self, conn: Connection, aside: Callable[[tuple], None]) -> None:
        self._conn = conn
        self._aside = aside
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def call(self, method: str, args: dict[str, Any]) -> Any:
        with self._lock:
            call_id = next(self._ids)
            self._conn.send(("call", call_id, method, args))
            while True:
                message = self._conn.recv()
                if message[0] != "reply" or message[1] != call_id:
                    self._aside(message)
                    continue
                _, _, ok, value = message
                if not ok:
                    raise value
                return value


def answer(engine: Engine, send: Callable[[tuple], None], call: tuple) -> None:
    """Serve ``call`` (a ("call", id, method, args) message) on ``engine`` from a new thread;
    the reply goes out through ``send``."""

    def serve() -> None:
        _, call_id, method, args = call
        try:
            reply = ("reply", call_id, True, relay.serve(engine, method, args))
        except Exception as exc:  # the job gets it raised in its own process
            reply = ("reply", call_id, False, exc)
        try:
            send(reply)
        except OSError:  # the worker is gone
            pass

    threading.Thread(target=serve, name="picloud-local-call", daemon=True).start()
