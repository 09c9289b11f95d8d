"""PiCloud's job paths: ``GET /job/`` (info), ``GET /job/result/``, ``POST /job/kill/`` and
``POST /job/delete/``, plus ``GET /servers/list/``. Each answers as the api key of the request:
another key's jid answers exactly like a missing one (404)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from picloud.exceptions import CloudException, NoSuchJobError
from picloud.jobs import ALL_INFO_FIELDS, JobStatus
from webui.api import results
from webui.api.auth import api_view, public_view
from webui.api.bodies import fields, jid_list
from webui.api.engines import engine_changing, engine_for
from webui.api.responses import JOB_FAILED, JOB_NOT_DONE, ApiError, ok
from webui.published.models import Invocation

#: Info fields the HTTP API serves: all but those that would unpickle user data on the server.
INFO_FIELDS = tuple(f for f in ALL_INFO_FIELDS if f not in ("args", "kwargs", "func_body"))
#: Fields ``GET /job/`` returns when no ``field`` is given (PiCloud's).
DEFAULT_FIELDS = ("status", "exception", "runtime", "stderr", "stdout")


@public_view(methods=("GET",))
def servers_list(request: HttpRequest) -> HttpResponse:
    """``{"servers": [this server's URL]}`` (no credentials needed, as in PiCloud)."""
    return ok({"servers": [request.build_absolute_uri("/")]})


def _info_fields(requested: list[str]) -> tuple[str, ...]:
    names = [n.strip() for value in requested for n in value.split(",") if n.strip()]
    if not names:
        return DEFAULT_FIELDS
    if "all" in names:
        return INFO_FIELDS
    for name in names:
        if name in ("args", "kwargs", "func_body"):
            raise ApiError(
                400, f"field {name!r} is not served over HTTP; read it with cloud.info()"
            )
        if name not in INFO_FIELDS:
            raise ApiError(
                400, f"unknown field {name!r}; choose from {', '.join(INFO_FIELDS)}, or 'all'"
            )
    return tuple(dict.fromkeys(names))


@api_view(methods=("GET",))
def job_info(request: HttpRequest) -> HttpResponse:
    """``{"info": {"12": {"status": "done", ...}}}`` for ``?jids=12&field=status``."""
    jids = jid_list(request.GET.getlist("jids"))
    wanted = _info_fields(request.GET.getlist("field"))
    found = engine_for(request).info(jids, wanted)
    return JsonResponse({"info": {str(jid): found[jid] for jid in jids}})


def out_encoding(request: HttpRequest, jid: int) -> str:
    """How the result of ``jid`` is returned: its published function's encoding, else json."""
    found = (
        Invocation.objects.filter(caller=request.api_key, first_jid__lte=jid)  # type: ignore[attr-defined]
        .order_by("-first_jid")
        .values_list("first_jid", "count", "out_encoding")
        .first()
    )
    if found is not None and jid < found[0] + found[1]:
        return found[2]
    return "json"


@api_view(methods=("GET",))
def job_result(request: HttpRequest) -> HttpResponse:
    """``{"result": value}`` for ``?jid=12`` (JSON), or the bare bytes for a function published
    with ``out_encoding='raw'``. 455 while the job is not done; 456 when it failed."""
    jids = jid_list(request.GET.getlist("jid"), "jid")
    if len(jids) != 1:
        raise ApiError(400, f"jid names one job; got {len(jids)} (use /job/?jids= for many)")
    jid = jids[0]
    finished = engine_for(request).results([jid])[0]
    if not finished.status.finished:
        raise ApiError(JOB_NOT_DONE, "Requested job is not done.", JOB_NOT_DONE)
    if finished.status != JobStatus.DONE:
        raise ApiError(
            JOB_FAILED,
            f"job {jid} ended with status {finished.status.value!r} and has no result: "
            f"{finished.exception or 'no exception recorded'}",
            JOB_FAILED,
        )
    blob = finished.result or b""
    if out_encoding(request, jid) == "raw":
        return results.raw_body(jid, blob)
    return results.json_body(jid, blob)


@api_view(methods=("POST",))
def job_kill(request: HttpRequest) -> HttpResponse:
    """Kill ``?jids=12,13`` (or the same as a form field / JSON member); finished jobs stay."""
    jids = jid_list(fields(request).get("jids", []))
    with engine_changing(request) as engine:
        engine.kill(jids)
    return ok({"killed": jids})


@api_view(methods=("POST",))
def job_delete(request: HttpRequest) -> HttpResponse:
    """Delete finished jobs (their results, output and info); 409 if one is unfinished."""
    jids = jid_list(fields(request).get("jids", []))
    with engine_changing(request) as engine:
        try:
            engine.delete(jids)
        except NoSuchJobError:
            raise
        except CloudException as exc:  # some are unfinished
            raise ApiError(409, str(exc.parameter)) from None
    return ok({"deleted": jids})
