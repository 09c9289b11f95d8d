"""HTTP Basic auth for the API views: ``api_key:api_secretkey`` (``api_view``) or a Django
user's ``username:password`` (``user_view``, for cloud.account), with a short cache of good key
logins (the secret's PBKDF2 check is deliberately slow) and a limit on failed attempts per
client address. Both decorators answer every refusal as JSON, never as an HTML page."""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis
from django.conf import settings as django_settings
from django.contrib.auth import authenticate as authenticate_user
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from picloud.exceptions import CloudException, NoSuchJobError
from webui.api.responses import ApiError, error, no_such_job
from webui.apikeys.issuing import authenticate
from webui.apikeys.models import ApiKey

log = logging.getLogger("picloud.webui")

#: Failed logins one client address may make per window before it gets 429.
MAX_FAILURES = 10
FAILURE_WINDOW = 60
#: Seconds a checked key:secret pair is trusted without the slow hash check.
GOOD_LOGIN_SECONDS = 30
#: Seconds a key is taken to be still active without asking the database (a deactivation
#: refuses the key's requests within this).
ACTIVE_RECHECK_SECONDS = 1.0
#: A key's last_used is written at most this often (not on every request of a busy caller).
LAST_USED_STEP = datetime.timedelta(seconds=60)
#: (login trusted until, the key, its active flag trusted until) by (key, secret digest)
_good: dict[tuple[str, str], tuple[float, ApiKey, float]] = {}

#: Seconds a client is asked to wait when the broker is unreachable.
UNAVAILABLE_RETRY_AFTER = 1

View = Callable[..., HttpResponse]


class RateLimited(ApiError):
    """The key made more requests this second than the server allows."""

    def __init__(self, seconds: float) -> None:
        super().__init__(429, "too many requests for this API key; slow down")
        self.seconds = seconds


def _credentials(request: HttpRequest, shape: str) -> tuple[str, str]:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise ApiError(401, f"authentication required: HTTP Basic with {shape}")
    try:
        name, sep, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "malformed HTTP Basic credentials") from None
    if not sep or not name or not secret:
        raise ApiError(401, f"HTTP Basic credentials must be {shape}")
    return name, secret


def _failures_key(request: HttpRequest) -> str:
    return f"picloud-auth-failures:{request.META.get('REMOTE_ADDR', '?')}"


def _refuse_if_limited(request: HttpRequest) -> None:
    if cache.get(_failures_key(request), 0) >= MAX_FAILURES:
        raise ApiError(429, "too many failed logins from this address; try again in a minute")


def _count_failure(request: HttpRequest) -> None:
    failures_key = _failures_key(request)
    cache.add(failures_key, 0, FAILURE_WINDOW)
    try:
        cache.incr(failures_key)
    except ValueError:  # expired between add and incr
        cache.add(failures_key, 1, FAILURE_WINDOW)


def api_key_of(request: HttpRequest) -> ApiKey:
    """The active ApiKey the request's credentials name; ApiError 401/429 otherwise."""
    _refuse_if_limited(request)
    key, secret = _credentials(request, "api_key:api_secretkey")
    token = (key, hashlib.sha256(secret.encode()).hexdigest())
    now_monotonic = time.monotonic()
    cached = _good.get(token)
    found: ApiKey | None
    if cached and cached[0] > now_monotonic:
        found = cached[1]
        if cached[2] <= now_monotonic:  # still active? asked again at most once a second
            found = ApiKey.objects.filter(pk=found.pk, active=True).first()
            if found is not None:
                _good[token] = (cached[0], found, now_monotonic + ACTIVE_RECHECK_SECONDS)
    else:
        found = authenticate(key, secret)
        if found is not None:
            expiry = now_monotonic + GOOD_LOGIN_SECONDS
            _good[token] = (expiry, found, now_monotonic + ACTIVE_RECHECK_SECONDS)
    if found is None:
        _good.pop(token, None)
        _count_failure(request)
        raise ApiError(401, f"unknown or inactive API key {key!r}, or a wrong secret")
    _limit_rate(found.key)
    now = timezone.now()
    if found.last_used is None or now - found.last_used >= LAST_USED_STEP:
        ApiKey.objects.filter(pk=found.pk).update(last_used=now)
        found.last_used = now  # the cached key too: the next write is a step later
    request.api_secret = secret  # type: ignore[attr-defined]  (signs jobs submitted for it)
    return found


@receiver(post_save, sender=ApiKey)
def _forget_logins(sender: type[ApiKey], instance: ApiKey, **kwargs: Any) -> None:
    """A key changed (deactivated, a new secret): this process asks the database again at
    once (others within ACTIVE_RECHECK_SECONDS)."""
    for token in [t for t in list(_good) if t[0] == instance.key]:
        _good.pop(token, None)


def _limit_rate(key: str) -> None:
    """At most settings.PICLOUD_API_RATE requests per second per api key (in each server
    process): above it, 429 with Retry-After."""
    window = int(time.time())
    counter = f"picloud-api-rate:{key}:{window}"
    cache.add(counter, 0, 2)
    try:
        count = cache.incr(counter)
    except ValueError:  # expired between add and incr
        return
    if count > django_settings.PICLOUD_API_RATE:
        raise RateLimited(window + 1 - time.time())


def user_of(request: HttpRequest) -> Any:
    """The active Django user the request's credentials name; ApiError 401/429 otherwise."""
    _refuse_if_limited(request)
    username, password = _credentials(request, "username:password (a web UI login)")
    user = authenticate_user(request, username=username, password=password)
    if user is None:
        _count_failure(request)
        raise ApiError(401, f"unknown or inactive user {username!r}, or a wrong password")
    return user


def _answer(view: View, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Run ``view``; every refusal (and any surprise) becomes a JSON answer."""
    try:
        return view(request, *args, **kwargs)
    except RateLimited as exc:
        answer = error(429, str(exc), retry=True)
        answer["Retry-After"] = str(max(1, math.ceil(exc.seconds)))
        return answer
    except ApiError as exc:
        return error(exc.status, str(exc), exc.code)
    except NoSuchJobError as exc:
        return no_such_job(exc.jid)
    except RequestDataTooBig:
        return error(413, "request body too large")
    except TooManyFieldsSent:
        return error(400, "too many fields in the request")
    except MultiPartParserError as exc:
        return error(400, f"malformed multipart body: {exc}")
    except (UnreadablePostError, SuspiciousOperation) as exc:
        return error(400, f"bad request: {exc}")
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        return _unavailable(request, exc)
    except CloudException as exc:
        if broker_trouble(exc):
            return _unavailable(request, exc.parameter)
        return error(400, str(exc.parameter))
    except Exception:
        log.exception("HTTP API: %s %s failed", request.method, request.path)
        return error(500, "internal error (logged on the server)")


#: How picloud.broker and the cluster engine word a broker they cannot use.
_BROKER_TROUBLE = re.compile(r"^(cannot reach|lost) the broker")


def broker_trouble(exc: CloudException) -> bool:
    """Whether ``exc`` says the broker is unreachable (not the caller's fault)."""
    return bool(_BROKER_TROUBLE.search(str(exc.parameter)))


def _unavailable(request: HttpRequest, problem: Any) -> HttpResponse:
    """The broker is unreachable: nothing the caller did wrong (503, worth a retry)."""
    log.warning("HTTP API: %s %s: %s", request.method, request.path, problem)
    answer = error(503, f"the job service is unavailable: {problem}", retry=True)
    answer["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    return answer


def _check_method(request: HttpRequest, methods: Iterable[str] | None) -> None:
    if methods is not None and request.method not in methods:
        raise ApiError(405, f"{request.method} is not allowed here; use {' or '.join(methods)}")


def _decorator(
    identify: Callable[[HttpRequest], None], methods: Iterable[str] | None
) -> Callable[[View], View]:
    allowed = tuple(methods) if methods is not None else None

    def decorate(view: View) -> View:
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            _check_method(request, allowed)
            identify(request)
            return view(request, *args, **kwargs)

        @csrf_exempt
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return _answer(checked, request, *args, **kwargs)

        return wrapped

    return decorate


def _as_key(request: HttpRequest) -> None:
    request.api_key = api_key_of(request)  # type: ignore[attr-defined]


def _as_user(request: HttpRequest) -> None:
    request.api_user = user_of(request)  # type: ignore[attr-defined]


def _as_anyone(request: HttpRequest) -> None:
    return None


def api_view(view: View | None = None, *, methods: Iterable[str] | None = None) -> Any:
    """Authenticate by api key and give the view ``request.api_key`` (and
    ``request.api_secret``); turn ApiError (and any other failure) into its JSON answer.
    ``methods`` (e.g. ``("GET",)``) answers other methods with 405.
    Use as ``@api_view`` or ``@api_view(methods=("POST",))``."""
    decorate = _decorator(_as_key, methods)
    return decorate(view) if view is not None else decorate


def user_view(view: View | None = None, *, methods: Iterable[str] | None = None) -> Any:
    """``api_view`` for a Django user's username:password: gives ``request.api_user``."""
    decorate = _decorator(_as_user, methods)
    return decorate(view) if view is not None else decorate


def public_view(view: View | None = None, *, methods: Iterable[str] | None = None) -> Any:
    """``api_view`` without authentication (JSON errors, method check)."""
    decorate = _decorator(_as_anyone, methods)
    return decorate(view) if view is not None else decorate
