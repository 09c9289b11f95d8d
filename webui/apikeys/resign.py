"""Signing every API key and cron record anew, well before it expires (picloud.authority):
``manage.py record`` does it every REFRESH_SECONDS while it runs, on the host that holds the
fleet authority."""

from __future__ import annotations

import logging
import threading

import redis

from picloud import authority
from picloud.exceptions import CloudException
from webui.apikeys import mirror
from webui.crons import mirror as cron_mirror

log = logging.getLogger("picloud.webui")
#: Seconds before a failed re-signing is tried again.
RETRY_SECONDS = 60.0


def resign_all() -> tuple[int, int]:
    """Sign and publish every key and cron now; (keys, crons)."""
    return mirror.publish_all(), cron_mirror.publish_all()


def resign_until(stop: threading.Event) -> None:
    """Re-sign every REFRESH_SECONDS until ``stop`` is set."""
    while not stop.is_set():
        try:
            signed = resign_all()
            log.info("records signed anew: %d API keys, %d crons", *signed)
            wait = authority.REFRESH_SECONDS
        except (CloudException, redis.RedisError, OSError) as exc:
            log.warning("records not signed anew (%s); retrying in %.0f s", exc, RETRY_SECONDS)
            wait = RETRY_SECONDS
        stop.wait(wait)
