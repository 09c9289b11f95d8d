"""The cron calls of the HTTP API (what cloud.cron sends), as the authenticated api key."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse

from webui.api.auth import api_view
from webui.api.responses import ApiError, ok
from webui.crons import services


def _method(request: HttpRequest, method: str) -> None:
    if request.method != method:
        raise ApiError(405, f"use {method} for {request.path}")


def _body(request: HttpRequest) -> dict[str, Any]:
    _method(request, "POST")
    try:
        found = json.loads(request.body or b"{}")
    except RequestDataTooBig:
        raise ApiError(413, "the request is too large (is the function's closure huge?)") from None
    except ValueError:
        raise ApiError(400, "the request body is not JSON") from None
    if not isinstance(found, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return found


@api_view
def register(request: HttpRequest) -> JsonResponse:
    cron = services.register(request.api_key, _body(request))  # type: ignore[attr-defined]
    return ok({"label": cron.label})


@api_view
def deregister(request: HttpRequest) -> JsonResponse:
    label = _body(request).get("label")
    services.deregister(services.get(request.api_key, label))  # type: ignore[attr-defined]
    return ok({})


@api_view
def run(request: HttpRequest) -> JsonResponse:
    label = _body(request).get("label")
    fired = services.run_now(services.get(request.api_key, label))  # type: ignore[attr-defined]
    return ok({"jid": fired.jid, "unserved": fired.unserved})


@api_view
def labels(request: HttpRequest) -> JsonResponse:
    _method(request, "GET")
    return ok({"labels": services.labels(request.api_key)})  # type: ignore[attr-defined]


@api_view
def info(request: HttpRequest) -> JsonResponse:
    _method(request, "GET")
    cron = services.get(request.api_key, request.GET.get("label"))  # type: ignore[attr-defined]
    return ok(services.info(cron))
