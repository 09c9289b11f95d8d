"""Keeping the workers' view of the keys (picloud.keyring, in Redis) in step with the table:
every save or delete of an ApiKey is published, signed by the fleet authority (whose key file
must be on this host); ``publish_all`` restores a Redis that lost it and, run hourly by the
recorder, signs every record anew before it expires."""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from picloud import broker, keyring
from picloud.authority import Authority
from picloud.exceptions import CloudException
from webui.apikeys.models import ApiKey

log = logging.getLogger("picloud.webui")


def _publisher() -> tuple[redis.Redis, Authority] | None:
    """The broker and the authority to sign with, or None (logged) when either is missing."""
    try:
        return broker.connect(broker.broker_url()), Authority.load()
    except CloudException as exc:
        log.warning("API keys not published to the workers: %s", exc)
        return None


def publish_all(client: redis.Redis | None = None) -> int:
    """Publish every key (active or not) to the broker; return how many."""
    found = _publisher()
    if found is None:
        return 0
    client = client or found[0]
    rows = list(ApiKey.objects.values_list("key", "public_key", "active"))
    pipe = client.pipeline(transaction=False)
    for key, public, active in rows:
        keyring.publish(pipe, found[1], key, public, active)
    pipe.execute()
    return len(rows)


@receiver(post_save, sender=ApiKey)
def _published(sender: Any, instance: ApiKey, **_: Any) -> None:
    found = _publisher()
    if found is not None:
        keyring.publish(found[0], found[1], instance.key, instance.public_key, instance.active)


@receiver(post_delete, sender=ApiKey)
def _withdrawn(sender: Any, instance: ApiKey, **_: Any) -> None:
    found = _publisher()
    if found is not None:
        keyring.withdraw(found[0], found[1], instance.key)
