"""Keeping the workers' view of the keys (picloud.keyring, in Redis) in step with the table:
every save or delete of an ApiKey is published; ``publish_all`` restores a Redis that lost it."""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from picloud import broker, keyring
from picloud.exceptions import CloudException
from webui.apikeys.models import ApiKey

log = logging.getLogger("picloud.webui")


def _broker() -> redis.Redis | None:
    try:
        return broker.connect(broker.broker_url())
    except CloudException as exc:
        log.warning("API keys not published to the workers: %s", exc)
        return None


def publish_all(client: redis.Redis | None = None) -> int:
    """Publish every key (active or not) to the broker; return how many."""
    client = client or _broker()
    if client is None:
        return 0
    rows = list(ApiKey.objects.values_list("key", "public_key", "active"))
    pipe = client.pipeline(transaction=False)
    for key, public, active in rows:
        keyring.publish(pipe, key, public, active)
    pipe.execute()
    return len(rows)


@receiver(post_save, sender=ApiKey)
def _published(sender: Any, instance: ApiKey, **_: Any) -> None:
    client = _broker()
    if client is not None:
        keyring.publish(client, instance.key, instance.public_key, instance.active)


@receiver(post_delete, sender=ApiKey)
def _withdrawn(sender: Any, instance: ApiKey, **_: Any) -> None:
    client = _broker()
    if client is not None:
        keyring.withdraw(client, instance.key)
