"""The HTTP API's URLs: PiCloud's paths (``/r/<key>/<label>/``, ``/job/...``,
``/servers/list/``; the trailing slash optional, as PiCloud's URIs had none) and our own
``/api/rest/...`` and ``/api/account/...`` for cloud.rest and cloud.account. Any other path
under them answers a JSON 404."""

from django.http import HttpRequest, HttpResponse
from django.urls import re_path

from webui.api import account, engine_calls, files, jobs, openapi, rest
from webui.api.auth import public_view
from webui.api.responses import ApiError


@public_view
def not_found(request: HttpRequest) -> HttpResponse:
    raise ApiError(404, f"no API path {request.path!r}")


_PART = r"[^/]+"

urlpatterns = [
    # first: the HTTP client's every call (a pattern tried and missed costs each request)
    re_path(rf"^api/engine/(?P<method>{_PART})/?$", engine_calls.engine_call),
    re_path(r"^servers/list/?$", jobs.servers_list),
    re_path(r"^job/?$", jobs.job_info),
    re_path(r"^job/result/?$", jobs.job_result),
    re_path(r"^job/kill/?$", jobs.job_kill),
    re_path(r"^job/delete/?$", jobs.job_delete),
    re_path(rf"^r/(?P<user>{_PART})/(?P<label>{_PART})/?$", rest.function_view),
    re_path(rf"^r/(?P<user>{_PART})/(?P<label>{_PART})/map/?$", rest.function_map),
    re_path(r"^api/rest/?$", rest.functions),
    re_path(rf"^api/rest/(?P<label>{_PART})/?$", rest.function_detail),
    re_path(r"^api/account/keys/?$", account.keys),
    re_path(rf"^api/account/keys/(?P<key>{_PART})/?$", account.key_detail),
    re_path(
        rf"^api/account/keys/(?P<key>{_PART})/(?P<action>activate|deactivate)/?$",
        account.key_active,
    ),
    re_path(r"^api/account/key/?$", account.own_key),
    re_path(r"^api/files/?$", files.files),
    re_path(r"^api/openapi\.json$", openapi.openapi),
    re_path(r"^(?:api|job|r|servers)/", not_found),
]
