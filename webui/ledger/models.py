"""The Job row: the database's record of one job, kept current by the recorder."""

from __future__ import annotations

from django.db import models

from picloud.jobs import JobStatus


class Job(models.Model):
    """One job as the ledger last saw it (Redis holds the live state, results and output).

    The indexes serve the admin and the dashboard on millions of rows: the job list is newest
    first, so each column it filters on leads an index followed by the jid (the database
    reads the first page off the index, with no sort); (label, status) answers the labels
    page's counts from the index alone; created and finished serve date ranges."""

    STATUS_CHOICES = [(s.value, s.value) for s in JobStatus]
    FINISHED = [s.value for s in JobStatus if s.finished]
    FAILED = [s.value for s in JobStatus if s.finished and s != JobStatus.DONE]

    jid = models.BigIntegerField(primary_key=True, verbose_name="jid", help_text="the job id")
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, help_text="as Redis last said")
    label = models.CharField(
        max_length=255, blank=True, default="", help_text="the job's _label, if any"
    )
    pool = models.CharField(
        max_length=100, blank=True, default="", help_text="the queue it ran on: c1, c2.myenv, …"
    )
    priority = models.IntegerField(default=5, help_text="_priority: lower runs first")
    owner = models.CharField(
        "API key", max_length=64, blank=True, default="", help_text="the key that submitted it"
    )
    function = models.CharField(
        max_length=255, blank=True, default="", help_text="the function's qualified name"
    )
    created = models.DateTimeField(null=True, blank=True, help_text="when it was submitted")
    started = models.DateTimeField(null=True, blank=True, help_text="when a worker started it")
    finished = models.DateTimeField(null=True, blank=True, help_text="when it ended")
    runtime = models.FloatField(null=True, blank=True, help_text="seconds")
    attempts = models.IntegerField(default=0, help_text="times a worker started it")
    worker = models.CharField(
        max_length=255, blank=True, default="", help_text="the worker process: node/pid"
    )
    error = models.TextField(blank=True, default="", help_text="the exception or traceback")
    updated = models.DateTimeField(help_text="when the recorder last wrote this row")

    class Meta:
        ordering = ["-jid"]
        verbose_name = "job"
        indexes = [
            models.Index(fields=["status", "jid"], name="ledger_job_status"),
            models.Index(fields=["label", "jid"], name="ledger_job_label"),
            models.Index(fields=["label", "status"], name="ledger_job_label_status"),
            models.Index(fields=["pool", "jid"], name="ledger_job_pool"),
            models.Index(fields=["owner", "jid"], name="ledger_job_owner"),
            models.Index(fields=["created"], name="ledger_job_created"),
            models.Index(fields=["finished"], name="ledger_job_finished"),
        ]

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


class FinishedTally(models.Model):
    """Jobs that finished, per pool, status and runtime bucket: counts that only go up.

    The database keeps them itself: triggers on the Job table (migration 0002) count each
    finish in the statement that writes it, once (a replayed write adds nothing; a re-run that
    finishes again adds one), so they serve as a Prometheus counter and histogram. ``removed``
    counts the finishes whose rows went since (deleted, or re-run): ``jobs - removed`` is how
    many such rows the Job table holds now, without counting them.

    A Django migration that rebuilds the Job table on SQLite drops its triggers: such a
    migration must create them again (a test checks that they exist)."""

    pool = models.CharField(max_length=100, help_text="the queue the jobs ran on")
    status = models.CharField(max_length=16, help_text="the status they finished with")
    le = models.CharField(
        "runtime bucket",
        max_length=16,
        blank=True,
        help_text="the upper bound of their runtime (seconds) as Prometheus writes it, '+Inf', "
        "or '' for jobs with no runtime (never started)",
    )
    jobs = models.BigIntegerField(default=0, help_text="jobs finished")
    removed = models.BigIntegerField(
        default=0, help_text="of those, the rows deleted since or finished again (re-run)"
    )
    runtime = models.FloatField(default=0.0, help_text="their runtimes added up (seconds)")

    class Meta:
        verbose_name = "finished-jobs tally"
        constraints = [
            models.UniqueConstraint(fields=["pool", "status", "le"], name="ledger_tally_key")
        ]

    def __str__(self) -> str:
        return f"{self.jobs} {self.status} on {self.pool or '?'} (le {self.le or '-'})"
