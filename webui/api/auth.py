"""HTTP Basic auth by ``api_key:api_secretkey`` for the API views, with a short cache of good
logins (the secret's PBKDF2 check is deliberately slow) and a limit on failed attempts."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from webui.api.responses import ApiError, error
from webui.apikeys.issuing import authenticate
from webui.apikeys.models import ApiKey

#: Failed logins one client address may make per window before it gets 429.
MAX_FAILURES = 10
FAILURE_WINDOW = 60
#: Seconds a checked key:secret pair is trusted without the slow hash check.
GOOD_LOGIN_SECONDS = 30
_good: dict[tuple[str, str], tuple[float, int]] = {}

View = Callable[..., HttpResponse]


def _credentials(request: HttpRequest) -> tuple[str, str]:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise ApiError(401, "authentication required: HTTP Basic with api_key:api_secretkey")
    try:
        key, sep, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "malformed HTTP Basic credentials") from None
    if not sep or not key or not secret:
        raise ApiError(401, "HTTP Basic credentials must be api_key:api_secretkey")
    return key, secret


def _failures_key(request: HttpRequest) -> str:
    return f"picloud-auth-failures:{request.META.get('REMOTE_ADDR', '?')}"


def api_key_of(request: HttpRequest) -> ApiKey:
    """The active ApiKey the request's credentials name; ApiError 401/429 otherwise."""
    failures_key = _failures_key(request)
    if cache.get(failures_key, 0) >= MAX_FAILURES:
        raise ApiError(429, "too many failed logins from this address; try again in a minute")
    key, secret = _credentials(request)
    token = (key, hashlib.sha256(secret.encode()).hexdigest())
    cached = _good.get(token)
    if cached and cached[0] > time.monotonic():
        found = ApiKey.objects.filter(pk=cached[1], active=True).first()
    else:
        found = authenticate(key, secret)
    if found is None:
        _good.pop(token, None)
        cache.add(failures_key, 0, FAILURE_WINDOW)
        cache.incr(failures_key)
        raise ApiError(401, f"unknown or inactive API key {key!r}, or a wrong secret")
    _good[token] = (time.monotonic() + GOOD_LOGIN_SECONDS, found.pk)
    ApiKey.objects.filter(pk=found.pk).update(last_used=timezone.now())
    request.api_secret = secret  # type: ignore[attr-defined]  (signs jobs submitted for it)
    return found


def api_view(view: View) -> View:
    """Authenticate, give the view ``request.api_key``; turn ApiError into its JSON answer."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            request.api_key = api_key_of(request)  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)
        except ApiError as exc:
            return error(exc.status, str(exc), exc.code)

    return wrapped
