"""Deleting a Cron however it happens (deregister, the admin, its API key or its PeriodicTask
deleted) deletes its PeriodicTask and withdraws it from the workers' Redis view."""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django_celery_beat.models import PeriodicTask

from picloud.exceptions import CloudException
from webui.apikeys.models import ApiKey
from webui.crons import mirror
from webui.crons.models import Cron

log = logging.getLogger("picloud.webui")


@receiver(post_delete, sender=Cron)
def _withdrawn(sender: Any, instance: Cron, **_: Any) -> None:
    PeriodicTask.objects.filter(pk=instance.periodic_task_id).delete()
    key = ApiKey.objects.filter(pk=instance.owner_id).values_list("key", flat=True).first()
    if key is None:  # its key is gone: workers refuse the key's runs anyway
        return
    try:
        with mirror.connection() as client:
            mirror.withdraw(client, key, instance.label)
    except (CloudException, redis.RedisError) as exc:
        log.warning("cron %r not withdrawn from the workers: %s", instance.label, exc)
