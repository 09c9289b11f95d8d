"""The admin for crons: each one with its schedule, its django-celery-beat entry (enable,
disable and edit it there) and its run history (the jobs it made, from the ledger), with a
"run now" action. Crons are registered with cloud.cron, which signs their grant."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from webui.api.responses import ApiError
from webui.crons import services
from webui.crons.models import Cron
from webui.ledger.models import Job

#: Runs listed on a cron's page (the link under them lists all in the jobs admin).
HISTORY_ROWS = 25


@admin.register(Cron)
class CronAdmin(admin.ModelAdmin):
    list_display = (
        "label",
        "owner",
        "schedule",
        "funcname",
        "pool",
        "enabled",
        "last_run",
        "last_job",
        "created",
    )
    list_select_related = ("owner", "periodic_task")
    list_filter = ("periodic_task__enabled", "owner")
    search_fields = ("label", "funcname", "owner__key")
    search_help_text = "part of a label or function name, or an API key"
    fieldsets = (
        (None, {"fields": ("label", "owner", "schedule", "funcname", "pool", "options")}),
        ("Beat", {"fields": ("beat_entry", "enabled", "created", "creator_host")}),
        ("Runs", {"fields": ("last_run", "last_job", "run_history")}),
    )
    actions = ("run_now",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [name for _, options in self.fieldsets for name in options["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a cron's grant is signed by its key's secret, which only cloud.cron has

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request)  # actions, no edits

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        services.refresh_runs(Cron.objects.select_related("owner"))
        return super().changelist_view(request, extra_context)

    def change_view(self, request: HttpRequest, object_id: str, *args: Any, **kw: Any) -> Any:
        services.refresh_runs(Cron.objects.filter(pk=object_id).select_related("owner"))
        return super().change_view(request, object_id, *args, **kw)

    @admin.display(boolean=True, description="enabled", ordering="periodic_task__enabled")
    def enabled(self, cron: Cron) -> bool:
        return cron.periodic_task.enabled

    @admin.display(description="pool")
    def pool(self, cron: Cron) -> str:
        return cron.pool

    @admin.display(description="last job", ordering="last_jid")
    def last_job(self, cron: Cron) -> str:
        if cron.last_jid is None:
            return "-"
        url = reverse("admin:ledger_job_change", args=[cron.last_jid])
        return format_html('<a href="{}">{}</a>', url, cron.last_jid)

    @admin.display(description="django-celery-beat entry")
    def beat_entry(self, cron: Cron) -> str:
        task = cron.periodic_task
        url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
        return format_html(
            '<a href="{}">{}</a> ({}, last sent {}, {} runs)',
            url,
            task.name,
            task.crontab,
            task.last_run_at or "never",
            task.total_run_count,
        )

    @admin.display(description="run history")
    def run_history(self, cron: Cron) -> str:
        jobs = Job.objects.filter(owner=cron.owner.key, label=cron.label).order_by("-jid")
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:ledger_job_change", args=[job.jid]),
                    job.jid,
                    job.status,
                    job.created or "-",
                    "-" if job.runtime is None else f"{job.runtime:.3f} s",
                    (job.error.strip().splitlines() or [""])[-1][:120],
                )
                for job in jobs[:HISTORY_ROWS]
            ),
        )
        every = (
            reverse("admin:ledger_job_changelist")
            + "?"
            + urlencode({"label": cron.label, "owner": cron.owner.key})
        )
        if not rows:
            return format_html('No runs recorded yet (<a href="{}">jobs</a>).', every)
        return format_html(
            "<table><thead><tr><th>jid</th><th>status</th><th>created</th><th>runtime</th>"
            '<th>error</th></tr></thead><tbody>{}</tbody></table><a href="{}">all runs</a>',
            rows,
            every,
        )

    @admin.action(description="Run the selected crons now")
    def run_now(self, request: HttpRequest, queryset: QuerySet[Cron]) -> None:
        for cron in queryset.select_related("owner"):
            try:
                fired = services.run_now(cron)
            except ApiError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            note = f" (no live worker serves {fired.unserved})" if fired.unserved else ""
            self.message_user(request, f"cron {cron.label!r}: job {fired.jid}{note}")
