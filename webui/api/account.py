"""cloud.account over HTTP: a web UI user (HTTP Basic ``username:password``) lists, reads,
creates, activates and deactivates their own API keys under ``/api/account/keys/``; a key
reads itself at ``/api/account/key/`` (``get_key_by_key``).

A key's dict is PiCloud's ``{"api_key", "api_secretkey", "private_key"}`` plus ``active`` and
``note`` (its description). Secrets are never stored, so ``api_secretkey`` is None except in
the answer that creates the key; ``private_key`` is always None (picloud keys have none)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from webui.api.auth import api_view, user_view
from webui.api.bodies import fields
from webui.api.responses import ApiError, ok
from webui.apikeys import issuing
from webui.apikeys.models import ApiKey

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def key_id(key: str) -> int | str:
    """PiCloud's keys were ints: a key of digits is returned as one."""
    return int(key) if key.isascii() and key.isdigit() and len(key) < 19 else key


def key_dict(api_key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    return {
        "api_key": key_id(api_key.key),
        "api_secretkey": secret,
        "private_key": None,
        "active": api_key.active,
        "note": api_key.description,
    }


def _flag(request: HttpRequest, name: str) -> bool:
    value = request.GET.get(name, "").strip().lower()
    if value not in _TRUE | _FALSE:
        raise ApiError(400, f"{name} must be true or false, got {value!r}")
    return value in _TRUE


def _own_key(request: HttpRequest, key: str) -> ApiKey:
    user = request.api_user  # type: ignore[attr-defined]
    found = ApiKey.objects.filter(user=user, key=key).first()
    if found is None:
        raise ApiError(404, f"user {user.get_username()!r} has no API key {key!r}")
    return found


@user_view(methods=("GET", "POST"))
def keys(request: HttpRequest) -> HttpResponse:
    """GET: ``{"api_keys": [...]}`` (``?active_only=true`` for the active ones). POST: a new
    key, ``{"key": {...}}`` with its secret, shown this once (form or JSON ``note`` optional)."""
    user = request.api_user  # type: ignore[attr-defined]
    if request.method == "GET":
        owned = ApiKey.objects.filter(user=user)
        if _flag(request, "active_only"):
            owned = owned.filter(active=True)
        return ok({"api_keys": [key_id(k) for k in owned.values_list("key", flat=True)]})
    note = (fields(request).get("note") or [""])[-1]
    api_key, secret = issuing.issue_key(user=user, description=str(note)[:255])
    return ok({"key": key_dict(api_key, secret)})


@user_view(methods=("GET",))
def key_detail(request: HttpRequest, key: str) -> HttpResponse:
    """``{"key": {...}}`` for one of the user's keys (``api_secretkey`` None: not stored)."""
    return ok({"key": key_dict(_own_key(request, key))})


@user_view(methods=("POST",))
def key_active(request: HttpRequest, key: str, action: str) -> HttpResponse:
    """Activate or deactivate one of the user's keys (workers learn it at once)."""
    api_key = _own_key(request, key)
    api_key.active = action == "activate"
    api_key.save(update_fields=["active"])
    return ok({"key": key_dict(api_key)})


@api_view(methods=("GET",))
def own_key(request: HttpRequest) -> HttpResponse:
    """``{"key": {...}}`` of the key the request authenticated with."""
    return ok({"key": key_dict(request.api_key)})  # type: ignore[attr-defined]
