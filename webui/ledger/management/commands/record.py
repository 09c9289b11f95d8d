"""``manage.py record``: run the recorder (job ledger stream -> Job rows) until stopped, and
sign the workers' key and cron records anew every hour meanwhile."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from picloud.exceptions import CloudException
from webui.apikeys import resign
from webui.ledger import recorder


class Command(BaseCommand):
    help = (
        "Record job state changes from Redis's ledger stream into the Job table. Runs until "
        "SIGINT/SIGTERM; --once records what is there and exits."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="drain the stream, then exit")
        parser.add_argument(
            "--consumer",
            help="this recorder's consumer name (default: the host name; give each recorder "
            "on one host its own)",
        )
        parser.add_argument("--group", default=recorder.GROUP, help="the consumer group")
        parser.add_argument(
            "--count", type=int, default=recorder.COUNT, help="stream entries per read"
        )
        parser.add_argument(
            "--claim-idle",
            type=float,
            default=recorder.CLAIM_IDLE,
            help="seconds before a dead recorder's pending entries are taken over",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        if options["once"]:
            client = self._connect(stop, retry=False)
        else:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            client = self._connect(stop, retry=True)
            if client is None:
                return
            # the workers' key and cron records expire unless signed anew
            threading.Thread(target=resign.resign_until, args=(stop,), daemon=True).start()
        worker = recorder.Recorder(
            client,
            group=options["group"],
            consumer=options["consumer"],
            count=options["count"],
            claim_idle=options["claim_idle"],
        )
        try:
            if options["once"]:
                worker.start()
                events = worker.drain()
                worker.report(force=True)
                self.stdout.write(f"recorded {events} events")
            else:
                worker.run(stop)
        finally:
            client.close()

    def _connect(self, stop: threading.Event, retry: bool) -> Any:
        """The broker client; with ``retry``, keep trying until it answers or ``stop``."""
        while True:
            try:
                return recorder.connect()
            except CloudException as exc:
                if not retry:
                    raise CommandError(str(exc)) from None
                recorder.log.warning("recorder: %s; retrying in 2 s", exc)
            if stop.wait(2.0):
                return None
