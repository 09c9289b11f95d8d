"""The ledger's numbers for the dashboard: jobs per status, throughput, recent failures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F
from django.db.models.functions import TruncMinute
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from picloud.jobs import FAILED, JobStatus
from webui.ledger.models import Job

#: Minutes of history the throughput chart shows (the last one is the current minute).
THROUGHPUT_MINUTES = 60
#: Failed jobs listed under "recent errors".
RECENT_ERRORS = 10


def status_counts() -> dict[str, int]:
    """``{status: jobs}`` for every status, in lifecycle order (zeros included)."""
    counts = dict.fromkeys((s.value for s in JobStatus), 0)
    for row in Job.objects.order_by().values("status").annotate(n=Count("jid")):
        counts[row["status"]] = row["n"]
    return counts


def throughput(now: datetime | None = None) -> dict[str, Any]:
    """Jobs finished per minute over the last THROUGHPUT_MINUTES minutes: ``{"start": unix
    time of the first minute, "per_minute": [count, ...]}`` (oldest first)."""
    now = now or timezone.now()
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=THROUGHPUT_MINUTES)
    per_minute = [0] * THROUGHPUT_MINUTES
    rows = (
        Job.objects.filter(finished__gte=start, finished__lt=end)
        .annotate(minute=TruncMinute("finished"))
        .order_by()
        .values("minute")
        .annotate(n=Count("jid"))
    )
    for row in rows:
        index = int((row["minute"] - start).total_seconds() // 60)
        if 0 <= index < THROUGHPUT_MINUTES:
            per_minute[index] += row["n"]
    return {"start": start.timestamp(), "per_minute": per_minute}


def error_summary(text: str) -> str:
    """One line of an error: a traceback's last line (the exception), else the first line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if lines[0].startswith("Traceback (most recent call last)") else lines[0]


def _admin_url(jid: int) -> str | None:
    try:
        return reverse("admin:ledger_job_change", args=[jid])
    except NoReverseMatch:  # the ledger's admin is not installed
        return None


def recent_errors(now: datetime | None = None) -> list[dict[str, Any]]:
    """The last RECENT_ERRORS jobs that failed (error, killed, stalled), latest first."""
    now = now or timezone.now()
    jobs = Job.objects.filter(status__in=[s.value for s in FAILED]).order_by(
        F("finished").desc(nulls_last=True), "-jid"
    )[:RECENT_ERRORS]
    rows = []
    for job in jobs:
        when = job.finished or job.updated
        rows.append(
            {
                "jid": job.jid,
                "url": _admin_url(job.jid),
                "status": job.status,
                "function": job.function,
                "label": job.label,
                "pool": job.pool,
                "error": error_summary(job.error),
                "when": when.isoformat() if when else None,
                "age": max((now - when).total_seconds(), 0.0) if when else None,
            }
        )
    return rows


def summary(now: datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows from the database."""
    now = now or timezone.now()
    return {
        "statuses": status_counts(),
        "throughput": throughput(now),
        "errors": recent_errors(now),
    }
