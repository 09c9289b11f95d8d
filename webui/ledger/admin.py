"""The admin for jobs (a read-only ledger with kill, delete and re-run actions that go through
the cluster engine, and live output from Redis) and for labels (job counts per status)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from picloud.jobs import JobStatus
from webui.ledger import actions, live
from webui.ledger.filters import DistinctValuesFilter
from webui.ledger.models import Job, Label

#: Characters of an error shown in the job list.
ERROR_CHARS = 80
#: Most labels the labels page lists.
MAX_LABELS = 1000


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "jid",
        "status",
        "label",
        "pool",
        "priority",
        "owner",
        "function",
        "created",
        "started",
        "finished",
        "runtime",
        "attempts",
        "worker",
        "short_error",
    )
    list_display_links = ("jid",)
    list_filter = (
        "status",
        ("pool", DistinctValuesFilter),
        ("label", DistinctValuesFilter),
        ("owner", DistinctValuesFilter),
        ("created", admin.DateFieldListFilter),
    )
    search_fields = ("label", "function")
    search_help_text = "a jid, or part of a label or function name"
    ordering = ("-jid",)
    sortable_by = ("jid", "created", "finished")  # the indexed ones
    list_per_page = 100
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ("kill_jobs", "delete_jobs", "rerun_jobs")
    fieldsets = (
        (None, {"fields": ("jid", "status", "label", "function", "pool", "priority", "owner")}),
        ("Run", {"fields": ("created", "started", "finished", "runtime", "attempts", "worker")}),
        (
            "Live from Redis",
            {"fields": ("live_status", "resources", "stdout", "stderr", "traceback")},
        ),
        ("As recorded", {"fields": ("error", "updated")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [name for _, options in self.fieldsets for name in options["fields"]]

    # --- read-only, but the list has actions --------------------------------------------------
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # the list (obj None) may run actions; a job's own page is read-only
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # deleting goes through the engine (the delete action), never Django's delete page
        return obj is None and super().has_delete_permission(request)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # rows only; ours deletes the jobs in Redis too
        return found

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        term = search_term.strip()
        if term.isdigit() and len(term) < 19:  # a jid (a bigint), or a label that is a number
            return queryset.filter(Q(jid=int(term)) | Q(label=term)), False
        return super().get_search_results(request, queryset, search_term)

    # --- columns ------------------------------------------------------------------------------
    @admin.display(description="error")
    def short_error(self, job: Job) -> str:
        """The error's last line (the exception), shortened."""
        lines = [line for line in job.error.strip().splitlines() if line.strip()]
        last = lines[-1].strip() if lines else ""
        return last if len(last) <= ERROR_CHARS else last[: ERROR_CHARS - 1] + "…"

    @admin.display(description="status in Redis")
    def live_status(self, job: Job) -> str:
        found = live.read(job)
        return found.status or found.problem

    @admin.display(description="resources used")
    def resources(self, job: Job) -> str:
        return live.read(job).usage() or "not measured yet (it has not finished)"

    @admin.display(description="stdout")
    def stdout(self, job: Job) -> str:
        return _pre(live.read(job).text("stdout", "nothing was written to stdout"))

    @admin.display(description="stderr")
    def stderr(self, job: Job) -> str:
        return _pre(live.read(job).text("stderr", "nothing was written to stderr"))

    @admin.display(description="traceback")
    def traceback(self, job: Job) -> str:
        return _pre(live.read(job).text("exception", "no exception"))

    # --- actions ------------------------------------------------------------------------------
    @admin.action(description="Kill selected jobs", permissions=["change"])
    def kill_jobs(self, request: HttpRequest, queryset: Any) -> None:
        self._report(request, actions.kill(_jids(queryset)))

    @admin.action(description="Delete selected jobs (and their results)", permissions=["delete"])
    def delete_jobs(self, request: HttpRequest, queryset: Any) -> None:
        self._report(request, actions.delete(_jids(queryset)))

    @admin.action(description="Re-run selected jobs (same jids)", permissions=["change"])
    def rerun_jobs(self, request: HttpRequest, queryset: Any) -> None:
        self._report(request, actions.rerun(_jids(queryset)))

    def _report(self, request: HttpRequest, outcome: actions.Outcome) -> None:
        level = messages.ERROR if outcome.failed else messages.SUCCESS
        self.message_user(request, outcome.message, level)


def _jids(queryset: Any) -> list[int]:
    return sorted(queryset.order_by().values_list("jid", flat=True))


def _pre(text: str) -> str:
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    """Each label with its jobs per status, counted in one query; each links to its jobs."""

    change_list_template = "ledger/labels.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = label_counts()
        context = {
            **self.admin_site.each_context(request),
            "title": "Labels",
            "opts": self.model._meta,
            "statuses": [s.value for s in JobStatus],
            "rows": rows[:MAX_LABELS],
            "more": len(rows) > MAX_LABELS,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.change_list_template, context)


def label_counts(limit: int = MAX_LABELS + 1) -> list[dict[str, Any]]:
    """Per label: its jobs' link, total and ``cells`` (count and link per status, in JobStatus
    order); one aggregate query."""
    statuses = [s.value for s in JobStatus]
    # counting the (never null) status, not the jid, lets the (label, status) index answer
    per_status = {f"n_{s}": Count("status", filter=Q(status=s)) for s in statuses}
    found = (
        Job.objects.order_by()
        .values("label")
        .annotate(total=Count("status"), **per_status)
        .order_by("label")[:limit]
    )
    jobs = reverse("admin:ledger_job_changelist")
    rows = []
    for row in found:
        label = row["label"]
        rows.append(
            {
                "label": label,
                "link": f"{jobs}?{urlencode({'label': label})}",
                "total": row["total"],
                "cells": [
                    (row[f"n_{s}"], f"{jobs}?{urlencode({'label': label, 'status__exact': s})}")
                    for s in statuses
                ],
            }
        )
    return rows
