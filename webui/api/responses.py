"""JSON answers of the HTTP API: results, and errors as PiCloud shaped them
(``{"error_code": N, "error_msg": "...", "retry": false}``) with a 4xx status.

Besides the HTTP status codes, two codes of PiCloud's kind (each also the HTTP status):
455, the job is not done yet (PiCloud's), and 456, the job ended without a result (picloud's
own: error, killed or stalled; ``error_msg`` holds why)."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

#: PiCloud's code for "the job is not done yet" (a 4xx status of its own).
JOB_NOT_DONE = 455
#: The job finished without a result (error, killed, stalled); not PiCloud's, in its style.
JOB_FAILED = 456


class ApiError(Exception):
    """A request the API refuses: ``status`` (4xx) and a message naming what was wrong."""

    def __init__(self, status: int, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or status


def ok(payload: dict[str, Any], status: int = 200) -> JsonResponse:
    return JsonResponse(payload, status=status)


def error(status: int, message: str, code: int | None = None, retry: bool = False) -> JsonResponse:
    body = {"error_code": code or status, "error_msg": message, "retry": retry}
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="picloud"'
    return response


def no_such_job(jid: Any) -> JsonResponse:
    """The one answer for a jid that does not exist, was deleted, or is another key's."""
    return error(404, f"no job {jid} (it does not exist, was deleted, or is another API key's)")
