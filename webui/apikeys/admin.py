"""Admin for API keys: create (the secret is shown once, on the page after saving), activate,
deactivate, and see when each key was last used."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from picloud import keyring
from webui.apikeys import issuing
from webui.apikeys.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "description", "user", "active", "created", "last_used")
    list_filter = ("active", "created", "last_used")
    search_fields = ("key", "description", "user__username")
    fields = ("key", "description", "user", "active", "public_key", "created", "last_used")
    actions = ("activate", "deactivate")

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple:
        fixed = ("public_key", "created", "last_used")
        return fixed if obj is None else ("key", *fixed)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"key": issuing.new_key_id()}

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            secret = keyring.new_secret()
            issuing.set_secret(obj, secret)
            request._picloud_new_secret = secret  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: ApiKey, *args: Any) -> HttpResponse:
        """Show the new key's secret, once, instead of going back to the list."""
        context = {
            **self.admin_site.each_context(request),
            "title": f"API key {obj.key} created",
            "api_key": obj,
            "secret": request._picloud_new_secret,  # type: ignore[attr-defined]
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "apikeys/created.html", context)

    @admin.action(description="Activate selected API keys")
    def activate(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._set_active(request, queryset, True)

    @admin.action(description="Deactivate selected API keys (their queued jobs will fail)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._set_active(request, queryset, False)

    def _set_active(self, request: HttpRequest, queryset: QuerySet[ApiKey], active: bool) -> None:
        changed = 0
        for api_key in queryset:  # one save each, so the workers' mirror is told
            if api_key.active != active:
                api_key.active = active
                api_key.save(update_fields=["active"])
                changed += 1
        word = "activated" if active else "deactivated"
        self.message_user(request, f"{word} {changed} API key(s)", messages.SUCCESS)
