"""The dashboard page and the JSON it refreshes itself from (staff only)."""

from __future__ import annotations

import time
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from webui.dashboard import jobs, pools

#: Milliseconds between two refreshes of the page.
REFRESH_MS = 2000


def snapshot() -> dict[str, Any]:
    """What the page draws: the broker's pools and the ledger's jobs."""
    return {"now": time.time(), **pools.view.state(), **jobs.summary()}


@never_cache
@staff_member_required
def index(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "data": snapshot(),
        "refresh_ms": REFRESH_MS,
    }
    return render(request, "dashboard/index.html", context)


@never_cache
@staff_member_required
def data(request: HttpRequest) -> JsonResponse:
    return JsonResponse(snapshot())
