"""Who may read /metrics: with ``PICLOUD_METRICS_TOKEN`` set, whoever sends it as a bearer
token; without it, only requests made on this machine (as Flower does).

"On this machine" means REMOTE_ADDR is a loopback address and no proxy forwarded the request:
behind a reverse proxy on the same host every request comes from 127.0.0.1, so a request that
carries X-Forwarded-For, X-Real-IP or Forwarded counts as remote."""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.http import HttpRequest, HttpResponse

TOKEN_VARIABLE = "PICLOUD_METRICS_TOKEN"
#: Headers a reverse proxy adds to the requests it passes on.
_FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


def _loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def is_local(request: HttpRequest) -> bool:
    """The request was made on this machine, not passed on by a proxy."""
    meta = request.META
    return _loopback(meta.get("REMOTE_ADDR", "")) and not any(h in meta for h in _FORWARDED)


def _refuse(status: int, message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="picloud metrics"'
    return response


def refusal(request: HttpRequest) -> HttpResponse | None:
    """The response refusing ``request`` (401 without the token, 403 with a wrong one or from
    elsewhere when no token is set), or None when it may read the metrics."""
    token = os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        if is_local(request):
            return None
        return _refuse(
            403,
            f"/metrics answers requests from 127.0.0.1 only; set {TOKEN_VARIABLE} on the web "
            "server to let others read it with that bearer token",
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return _refuse(401, f"/metrics needs 'Authorization: Bearer <{TOKEN_VARIABLE}>'")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return _refuse(403, "wrong metrics token")
    return None
