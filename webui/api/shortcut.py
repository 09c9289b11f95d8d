"""The HTTP client's engine calls (``/api/engine/<method>``) skip the middleware a browser's
pages need. Such a call authenticates by HTTP Basic, carries no cookie and is exempt from CSRF
(webui.api.auth), so sessions, CSRF, the auth and message middleware and WhiteNoise do nothing
for it but cost each call; B1 over HTTP is two of them. What comes before this middleware in
MIDDLEWARE (SecurityMiddleware: the HTTPS redirect and HSTS) still applies, the Host header
is still checked against ALLOWED_HOSTS, and the answer has its Content-Length."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import resolve

#: Where the engine calls are (webui.api.urls).
ENGINE_PREFIX = "/api/engine/"


class EngineCallsShortcut:
    """Serves an engine call by its view at once; any other request goes down the chain."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(ENGINE_PREFIX):
            return self.get_response(request)
        request.get_host()  # DisallowedHost (a 400) for a host not in ALLOWED_HOSTS
        match = resolve(request.path_info)
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        # as CommonMiddleware would: without it, the answer goes chunked, read in more steps
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response
