"""PublishedFunction (a function ``cloud.rest.publish`` stored under a label) and Invocation
(the jids one POST to its URL made).

The server never unpickles the stored function: it hands the bytes to the workers inside a job
the caller's secret signs, as ``cloud.call`` does."""

from __future__ import annotations

from django.db import models

from webui.apikeys.models import ApiKey

#: Output encodings of ``cloud.rest.publish``: the result JSON-encoded, or its bytes as they are.
OUT_ENCODINGS = ("json", "raw")


class PublishedFunction(models.Model):
    """One published function; ``label`` is unique per owner key."""

    owner = models.ForeignKey(
        ApiKey,
        on_delete=models.CASCADE,
        related_name="published_functions",
        help_text="the API key that published it (its URL is /r/<key>/<label>/)",
    )
    label = models.CharField(max_length=255, help_text="the name in its URL")
    func_pickle = models.BinaryField(
        "function", editable=False, help_text="the cloudpickled function, never opened here"
    )
    func_name = models.CharField(
        "function name", max_length=255, blank=True, default="", help_text="module.qualname"
    )
    out_encoding = models.CharField(
        "output encoding",
        max_length=8,
        choices=[(e, e) for e in OUT_ENCODINGS],
        default="json",
        help_text="json: the result JSON-encoded; raw: the str/bytes returned, as they are",
    )
    signature = models.TextField(blank=True, default="", help_text="the function's arguments")
    parameters = models.JSONField(
        null=True,
        blank=True,
        help_text="[name, kind, has default] per parameter, to check invocations; null = unknown",
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="the reserved _keywords each invocation runs with"
    )
    description = models.TextField(blank=True, default="", help_text="the docstring")
    version = models.PositiveIntegerField(default=1, help_text="1, then +1 per re-publish")
    created = models.DateTimeField(auto_now_add=True, help_text="first published")
    updated = models.DateTimeField(auto_now=True, help_text="last published")

    class Meta:
        ordering = ["owner", "label"]
        verbose_name = "published function"
        constraints = [
            models.UniqueConstraint(fields=["owner", "label"], name="published_owner_label")
        ]

    def __str__(self) -> str:
        return f"/r/{self.owner.key}/{self.label}/"

    @property
    def job_label(self) -> str:
        """The ``_label`` of the jobs its invocations make (its URL path)."""
        return f"r/{self.owner.key}/{self.label}"


class Invocation(models.Model):
    """The jobs one invocation made: jids ``first_jid`` .. ``first_jid + count - 1``."""

    function = models.ForeignKey(
        PublishedFunction,
        null=True,
        on_delete=models.SET_NULL,
        related_name="invocations",
        help_text="empty once the function was removed",
    )
    caller = models.ForeignKey(
        ApiKey,
        null=True,
        on_delete=models.SET_NULL,
        related_name="invocations",
        help_text="the API key that invoked it (and owns the jobs)",
    )
    label = models.CharField(max_length=255, help_text="the function's label when invoked")
    out_encoding = models.CharField(
        "output encoding", max_length=8, help_text="how /job/result/ returns these jobs' results"
    )
    first_jid = models.BigIntegerField("first jid", help_text="the first job it made")
    count = models.PositiveIntegerField(help_text="how many jobs (a map makes up to 500)")
    created = models.DateTimeField(auto_now_add=True, help_text="when it was invoked")

    class Meta:
        ordering = ["-first_jid"]
        verbose_name = "invocation"
        indexes = [
            models.Index(fields=["caller", "first_jid"], name="published_inv_caller_jid"),
            models.Index(fields=["function", "first_jid"], name="published_inv_function_jid"),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.jids_text}"

    @property
    def jids_text(self) -> str:
        last = self.first_jid + self.count - 1
        return str(self.first_jid) if self.count == 1 else f"{self.first_jid}-{last}"
