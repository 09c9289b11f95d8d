"""The workers' view of the crons (picloud.keys.cron hashes and the functions, in Redis), kept in
step with the Cron table: written at register, deleted with the row; ``publish_all`` restores a
Redis that lost it. The firings write last_run / last_jid there, read back by ``runs``."""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import redis

from picloud import broker, keys
from picloud.exceptions import CloudException
from webui.crons.models import Cron

log = logging.getLogger("picloud.webui")


@contextmanager
def connection() -> Iterator[redis.Redis]:
    """A client for the workers' broker (CloudException if it is unreachable)."""
    client = broker.connect(broker.broker_url())
    try:
        yield client
    finally:
        client.close()


def publish(client: redis.Redis | redis.client.Pipeline, cron: Cron) -> None:
    """Let workers fire ``cron`` and accept its runs."""
    client.set(keys.function(cron.func_digest), bytes(cron.function))
    client.hset(
        keys.cron(cron.owner.key, cron.label),
        mapping={
            "func": cron.func_digest,
            "funcname": cron.funcname,
            "options": json.dumps(cron.options),
            "grant": cron.grant,
            "schedule": cron.schedule,
        },
    )


def withdraw(client: redis.Redis, api_key: str, label: str) -> None:
    """Forget a cron: its queued runs end in error, its firings make nothing."""
    client.delete(keys.cron(api_key, label))


def publish_all() -> int:
    """Publish every cron to the broker (after Redis lost them); return how many."""
    crons = list(Cron.objects.select_related("owner"))
    with connection() as client:
        pipe = client.pipeline(transaction=False)
        for cron in crons:
            publish(pipe, cron)
        pipe.execute()
    return len(crons)


Run = tuple[datetime.datetime | None, int | None]


def runs(crons: Iterable[Cron]) -> dict[int, Run]:
    """Each cron's (last_run, last_jid) as its firings recorded them in Redis, by cron id;
    empty if the broker cannot be reached."""
    crons = list(crons)
    try:
        with connection() as client:
            pipe = client.pipeline(transaction=False)
            for cron in crons:
                pipe.hmget(keys.cron(cron.owner.key, cron.label), "last_run", "last_jid")
            found = pipe.execute()
    except (CloudException, redis.RedisError) as exc:
        log.warning("cron runs not read from the broker: %s", exc)
        return {}
    out: dict[int, Run] = {}
    for cron, (when, jid) in zip(crons, found):
        if jid is not None:
            moment = datetime.datetime.fromtimestamp(float(when), datetime.UTC)
            out[cron.pk] = (moment, int(jid))
    return out
