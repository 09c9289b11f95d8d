"""The admin for published functions (read-only: publishing needs the client's pickle; removing
is allowed) with each one's invocations and links to the jobs they made in the ledger."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from webui.published.models import Invocation, PublishedFunction

#: Invocations listed on a published function's page (all are on the invocations list).
RECENT_INVOCATIONS = 50


def _jobs_link(label: str, text: str) -> str:
    url = reverse("admin:ledger_job_changelist") + "?" + urlencode({"label": label})
    return format_html('<a href="{}">{}</a>', url, text)


def _jids_link(invocation: Invocation) -> str:
    if invocation.count == 1:
        url = reverse("admin:ledger_job_change", args=[invocation.first_jid])
        return format_html('<a href="{}">{}</a>', url, invocation.jids_text)
    last = invocation.first_jid + invocation.count - 1
    query = urlencode({"jid__gte": invocation.first_jid, "jid__lte": last})
    url = reverse("admin:ledger_job_changelist") + "?" + query
    return format_html('<a href="{}">{}</a>', url, invocation.jids_text)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PublishedFunction)
class PublishedFunctionAdmin(_ReadOnly):
    list_display = (
        "label",
        "owner",
        "func_name",
        "signature",
        "out_encoding",
        "version",
        "invocation_count",
        "jobs",
        "updated",
    )
    list_filter = ("out_encoding", "updated")
    search_fields = ("label", "func_name", "owner__key")
    fields = (
        "label",
        "owner",
        "url",
        "func_name",
        "signature",
        "description",
        "out_encoding",
        "options",
        "version",
        "created",
        "updated",
        "jobs",
        "recent_invocations",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[PublishedFunction]:
        found = super().get_queryset(request).select_related("owner")
        return found.annotate(n_invocations=Count("invocations")).defer("func_pickle")

    @admin.display(description="invocations", ordering="n_invocations")
    def invocation_count(self, function: PublishedFunction) -> int:
        return getattr(function, "n_invocations", 0)

    @admin.display(description="URL")
    def url(self, function: PublishedFunction) -> str:
        return str(function)

    @admin.display(description="jobs")
    def jobs(self, function: PublishedFunction) -> str:
        return _jobs_link(function.job_label, f"jobs labelled {function.job_label}")

    @admin.display(description=f"latest {RECENT_INVOCATIONS} invocations")
    def recent_invocations(self, function: PublishedFunction) -> str:
        rows = function.invocations.select_related("caller")[:RECENT_INVOCATIONS]
        if not rows:
            return "none yet"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((_jids_link(i), i.count, i.caller or "", i.created) for i in rows),
        )
        head = "<tr><th>jids</th><th>jobs</th><th>caller</th><th>invoked</th></tr>"
        return format_html("<table>" + head + "{}</table>", body)


@admin.register(Invocation)
class InvocationAdmin(_ReadOnly):
    list_display = ("label", "jids", "count", "caller", "out_encoding", "created")
    list_filter = ("out_encoding", "created")
    search_fields = ("label", "caller__key")
    list_select_related = ("caller",)
    fields = ("function", "label", "caller", "jids", "count", "out_encoding", "created")
    readonly_fields = fields

    @admin.display(description="jids", ordering="first_jid")
    def jids(self, invocation: Invocation) -> str:
        return _jids_link(invocation)
