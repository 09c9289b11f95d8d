"""The HTTP client's engine calls skip the page middleware (webui.api.shortcut), and still get
what comes before it: the HTTPS redirect and the Host check."""

from __future__ import annotations

from django.test import Client

ENGINE_CALL = "/api/engine/statuses"


def test_an_engine_call_skips_the_page_middleware():
    client = Client()
    engine = client.post(ENGINE_CALL)
    page_api = client.get("/job/?jids=1")
    assert engine.status_code == page_api.status_code == 401  # both reached their view
    assert "authentication required" in engine.json()["error_msg"]
    assert "X-Frame-Options" in page_api.headers  # the full chain's clickjacking header
    assert "X-Frame-Options" not in engine.headers
    assert engine.headers["Content-Length"] == str(len(engine.content))


def test_an_engine_call_is_still_sent_to_https(settings):
    settings.SECURE_SSL_REDIRECT = True
    answer = Client().post(ENGINE_CALL)
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"https://testserver{ENGINE_CALL}"


def test_an_engine_call_to_a_host_not_allowed_is_refused(settings):
    settings.ALLOWED_HOSTS = ["picloud.example"]
    assert Client().post(ENGINE_CALL, HTTP_HOST="elsewhere.example").status_code == 400
    assert Client().post(ENGINE_CALL, HTTP_HOST="picloud.example").status_code == 401


def test_an_unknown_engine_path_is_a_json_404():
    answer = Client().post("/api/engine/no/such/path")
    assert answer.status_code == 404
    assert "no API path" in answer.json()["error_msg"]
