"""One thread per process listening on picloud's pub/sub channels (kills, trust records),
reconnecting whenever the broker goes away."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

log = logging.getLogger("picloud.worker")


class Listener:
    """Calls ``handlers[channel](data)`` for each message published on a channel."""

    def __init__(self, client: redis.Redis, handlers: dict[str, Callable[[bytes], None]]) -> None:
        self._client = client
        self._handlers = handlers
        threading.Thread(target=self._run, name="picloud-listener", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                self._listen()
            except redis.RedisError as exc:
                log.warning("picloud: the listener lost the broker (%s); reconnecting", exc)
                time.sleep(1)

    def _listen(self) -> None:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(*self._handlers)
        while True:
            message = pubsub.get_message(timeout=1.0)
            if message is not None:
                self._handlers[message["channel"].decode()](message["data"])
