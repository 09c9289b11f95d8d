"""The Job row: the database's record of one job, kept current by the recorder."""

from __future__ import annotations

from django.db import models

from picloud.jobs import JobStatus


class Job(models.Model):
    """One job as the ledger last saw it (Redis holds the live state, results and output)."""

    STATUS_CHOICES = [(s.value, s.value) for s in JobStatus]
    FINISHED = [s.value for s in JobStatus if s.finished]
    FAILED = [s.value for s in JobStatus if s.finished and s != JobStatus.DONE]

    jid = models.BigIntegerField(primary_key=True, verbose_name="jid")
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, db_index=True)
    label = models.CharField(max_length=255, blank=True, default="", db_index=True)
    pool = models.CharField(max_length=100, blank=True, default="", db_index=True)
    priority = models.IntegerField(default=5)
    owner = models.CharField("API key", max_length=64, blank=True, default="", db_index=True)
    function = models.CharField(max_length=255, blank=True, default="")
    created = models.DateTimeField(null=True, blank=True, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True, db_index=True)
    runtime = models.FloatField(null=True, blank=True, help_text="seconds")
    attempts = models.IntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True, default="")
    error = models.TextField(blank=True, default="", help_text="the exception or traceback")
    updated = models.DateTimeField(help_text="when the recorder last wrote this row")

    class Meta:
        ordering = ["-jid"]
        indexes = [models.Index(fields=["owner", "status"]), models.Index(fields=["pool", "status"])]

    def __str__(self) -> str:
        return f"job {self.jid} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class Label(Job):
    """The jobs grouped by label (an admin view; no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "label"
