"""The HTTP API's OpenAPI description, checked against the live server (gunicorn on the
session's fleet) by schemathesis: generated requests to every operation, authenticated as the
tests' key; none may get a server error (5xx), and what is answered must match the
description's status codes."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.services import TEST_API_KEY, TEST_SECRET


@pytest.fixture
def api_description(web):
    return schemathesis.openapi.from_url(f"{web.url}/api/openapi.json")


schema = schemathesis.pytest.from_fixture("api_description")


@schemathesis.serializer("application/x-picloud-frame")
def _frame(ctx: object, value: object) -> bytes:
    """Generated engine-call bodies as they are: random bytes (the server must refuse them)."""
    return value if isinstance(value, bytes) else str(value).encode()


def test_the_description_is_served_and_names_every_path(web):
    found = requests.get(f"{web.url}/api/openapi.json", timeout=10).json()
    assert found["openapi"].startswith("3.")
    assert {"/api/engine/{call}", "/api/files/", "/job/", "/r/{user}/{label}/"} <= set(
        found["paths"]
    )


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case, web):
    response = case.call(auth=(TEST_API_KEY, TEST_SECRET), timeout=60)
    case.validate_response(response, checks=(not_a_server_error, status_code_conformance))
