"""``GET /api/openapi.json``: the OpenAPI 3.0 description of the HTTP API (written here by
hand: the views are plain Django views, and this is short enough to keep beside them; the
tests check it against the live server with schemathesis)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from webui.api.auth import public_view
from webui.api.engine_calls import METHODS

_ERROR = {"$ref": "#/components/responses/Error"}
_JIDS = {
    "name": "jids",
    "in": "query",
    "required": True,
    "description": "Job ids, comma-separated (at most 1000).",
    "schema": {"type": "string", "example": "12,13"},
}


def _json(description: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    if properties:
        schema["properties"] = properties
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _ERROR for code in (400, 401, 429, *codes)}


def _operation(summary: str, ok: dict[str, Any], *codes: int, **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {"200": ok, **_errors(*codes)}, **extra}


_PATH_PART = {"type": "string", "pattern": "^[^/]+$"}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _PATH_PART}


_FORM = {
    "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
    "application/json": {"schema": {"type": "object"}},
}

DESCRIPTION: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "picloud HTTP API",
        "version": "1",
        "description": "PiCloud's job, REST and account paths, and the engine and files paths "
        "of clients that reach the fleet through this server. HTTP Basic with an api key and "
        "its secret (account paths: a web UI user's name and password).",
    },
    "components": {
        "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        "responses": {
            "Error": _json(
                "What was wrong (PiCloud's shape).",
                {
                    "error_code": {"type": "integer"},
                    "error_msg": {"type": "string"},
                    "retry": {"type": "boolean"},
                },
            )
        },
    },
    "security": [{"basic": []}],
    "paths": {
        "/servers/list/": {
            "get": {
                "summary": "This server's URL (no credentials needed).",
                "security": [],
                "responses": {"200": _json("The servers.", {"servers": {"type": "array"}})},
            }
        },
        "/job/": {
            "get": _operation(
                "Info fields of jobs.",
                _json("Info by jid.", {"info": {"type": "object"}}),
                404,
                parameters=[
                    _JIDS,
                    {"name": "field", "in": "query", "schema": {"type": "string"}},
                ],
            )
        },
        "/job/result/": {
            "get": _operation(
                "A finished job's result (455: not done; 456: it failed).",
                _json("The result.", {"result": {}}),
                404,
                455,
                456,
                parameters=[
                    {"name": "jid", "in": "query", "required": True, "schema": {"type": "string"}}
                ],
            )
        },
        "/job/kill/": {
            "post": _operation(
                "Kill unfinished jobs.",
                _json("The jids.", {"killed": {"type": "array"}}),
                404,
                parameters=[_JIDS],
            )
        },
        "/job/delete/": {
            "post": _operation(
                "Forget finished jobs (409 if one is unfinished).",
                _json("The jids.", {"deleted": {"type": "array"}}),
                404,
                409,
                parameters=[_JIDS],
            )
        },
        "/r/{user}/{label}/": {
            "parameters": [_path("user"), _path("label")],
            "get": _operation("A published function's description.", _json("It."), 404),
            "post": _operation(
                "Call a published function with form or JSON arguments.",
                _json("The job.", {"jid": {"type": "integer"}}),
                404,
                413,
                415,
                requestBody={"content": _FORM},
            ),
        },
        "/r/{user}/{label}/map/": {
            "parameters": [_path("user"), _path("label")],
            "post": _operation(
                "Map a published function over arguments (comma-separated lists).",
                _json("The jobs.", {"jids": {"type": "string"}}),
                404,
                413,
                415,
                requestBody={"content": _FORM},
            ),
        },
        "/api/rest/": {
            "get": _operation("The key's published functions.", _json("Their labels.")),
        },
        "/api/rest/{label}/": {
            "parameters": [_path("label")],
            "get": _operation("One published function.", _json("It."), 404),
            "delete": _operation("Unpublish it.", _json("Done."), 404),
        },
        "/api/account/key/": {
            "get": _operation("The key the request authenticates as.", _json("The key.")),
        },
        "/api/engine/{call}": {
            "parameters": [
                {
                    "name": "call",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(METHODS)},
                }
            ],
            "post": {
                "summary": "One call of the job API (picloud.engines.http): the body is a frame "
                "holding its arguments, the answer a frame holding its value or error.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-picloud-frame": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "The value or the error, as a frame.",
                        "content": {
                            "application/x-picloud-frame": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    **_errors(404, 413, 503),
                },
            },
        },
        "/api/files/": {
            "parameters": [{"name": "name", "in": "query", "schema": {"type": "string"}}],
            "get": _operation(
                "The names (no name), a file's bytes, or its md5 / whether it exists.",
                {
                    "description": "The names, or the file.",
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                },
                404,
                parameters=[
                    {"name": "start", "in": "query", "schema": {"type": "integer"}},
                    {"name": "end", "in": "query", "schema": {"type": "integer"}},
                    {
                        "name": "what",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["md5", "exists"]},
                    },
                ],
            ),
            "put": _operation(
                "Store the body as the file.",
                _json("Its md5.", {"md5": {"type": "string"}}),
                requestBody={
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    }
                },
            ),
            "delete": _operation(
                "Remove the file.", _json("Whether it was there.", {"deleted": {}})
            ),
        },
    },
}


@public_view(methods=("GET",))
def openapi(request: HttpRequest) -> HttpResponse:
    return JsonResponse(DESCRIPTION)
