"""Cron: one function registered with cloud.cron, fired by django-celery-beat's PeriodicTask.

The row keeps what is needed to restore the workers' view of it (picloud.keys.cron) to an empty
Redis: the pickled function, its options and the grant its owner signed."""

from __future__ import annotations

from django.db import models
from django_celery_beat.models import PeriodicTask

from webui.apikeys.models import ApiKey


class Cron(models.Model):
    owner = models.ForeignKey(
        ApiKey,
        on_delete=models.CASCADE,
        related_name="crons",
        verbose_name="API key",
        help_text="the key that registered it; its runs are that key's jobs",
    )
    label = models.CharField(max_length=100, help_text="the name cloud.cron calls it by")
    schedule = models.CharField(
        max_length=255, help_text="as registered: min hour day mon dow, in UTC"
    )
    periodic_task = models.OneToOneField(
        PeriodicTask,
        on_delete=models.CASCADE,
        related_name="cron",
        verbose_name="periodic task",
        help_text="the django-celery-beat entry that fires it",
    )
    funcname = models.CharField(
        "function", max_length=255, blank=True, default="", help_text="module.qualname"
    )
    func_digest = models.CharField(
        "function digest", max_length=64, editable=False, help_text="sha256 of its pickle"
    )
    function = models.BinaryField(editable=False, help_text="the pickled function")
    options = models.JSONField(
        default=dict, help_text="the reserved keywords every run gets (_type, _env, …)"
    )
    grant = models.CharField(
        max_length=128, editable=False, help_text="Ed25519 signature by the key's secret, hex"
    )
    created = models.DateTimeField(auto_now_add=True, help_text="when it was registered")
    creator_host = models.CharField(
        max_length=255, blank=True, default="", help_text="the machine that registered it"
    )
    last_run = models.DateTimeField(
        null=True, blank=True, help_text="when it last made a job (copied from Redis)"
    )
    last_jid = models.BigIntegerField(
        null=True, blank=True, help_text="the job it last made (copied from Redis)"
    )

    class Meta:
        ordering = ["owner", "label"]
        verbose_name = "cron"
        constraints = [
            models.UniqueConstraint(fields=["owner", "label"], name="crons_cron_owner_label"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def pool(self) -> str:
        """The queue its runs go to (c1, c2.myenv, …)."""
        return self.periodic_task.queue or "c1"
