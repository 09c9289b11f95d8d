"""The workers' view of the crons (picloud.keys.cron hashes and the functions, in Redis), kept in
step with the Cron table: written at register (the grant signed by the fleet authority), a
signed tombstone at deregister; ``publish_all`` restores a
Redis that lost it. The firings write last_run / last_jid there, read back by ``runs``."""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import redis

from picloud import broker, keyring, keys
from picloud.authority import Authority
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


def publish(
    client: redis.Redis | redis.client.Pipeline, cron: Cron, signer: Authority | None = None
) -> None:
    """Let workers fire ``cron`` and accept its runs: its grant in a record the fleet
    authority signs (``signer``, else the one on this host)."""
    client.set(keys.function(cron.func_digest), bytes(cron.function))
    cron_key = keys.cron(cron.owner.key, cron.label)
    client.hset(
        cron_key,
        mapping={
            "func": cron.func_digest,
            "funcname": cron.funcname,
            "options": json.dumps(cron.options),
            "grant": cron.grant,
            "schedule": cron.schedule,
        },
    )
    _record(client, signer or Authority.load(), cron.owner.key, cron.label, cron.grant)


def withdraw(client: redis.Redis, api_key: str, label: str) -> None:
    """Forget a cron: its queued runs end in error, its firings make nothing. A signed
    tombstone stays, so that the older record cannot be put back."""
    cron_key = keys.cron(api_key, label)
    client.delete(cron_key)
    _record(client, Authority.load(), api_key, label, None)


def _record(client: Any, signer: Authority, api_key: str, label: str, grant: str | None) -> None:
    data, signature = signer.sign(kind="cron", key=api_key, label=label, grant=grant)
    keyring.announce(client, keys.cron(api_key, label), data, signature)


def publish_all() -> int:
    """Publish every cron to the broker (after Redis lost them, and hourly to sign them anew
    before they expire); return how many."""
    crons = list(Cron.objects.select_related("owner"))
    signer = Authority.load()
    with connection() as client:
        pipe = client.pipeline(transaction=False)
        for cron in crons:
            publish(pipe, cron, signer)
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
