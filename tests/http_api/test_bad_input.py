"""Bad requests get a 4xx JSON error naming the problem, never a 5xx, and the server keeps
serving: malformed bodies (bad JSON, wrong types, 10 MB, not UTF-8), missing or wrong
credentials (and 429 after repeated failures), unknown labels, paths and methods."""

from __future__ import annotations

import base64
import json

import pytest

import picloud.config
from picloud import rest
from tests.http_api import funcs
from tests.http_api.conftest import refused
from webui.api.auth import MAX_FAILURES

pytestmark = pytest.mark.slow

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MULTIPART = {"Content-Type": "multipart/form-data; boundary=xyz"}
MULTIPART_NO_BOUNDARY = {"Content-Type": "multipart/form-data"}


@pytest.fixture
def add_url(configured) -> str:
    rest.publish(funcs.add, "add")
    return f"/r/{configured.key}/add/"


@pytest.fixture
def still_serving(curl, add_url):
    """After the test: the server still runs jobs."""
    yield
    assert curl.result(curl.post(add_url, data={"x": "1"}).json()["jid"]) == 2


BAD_BODIES = [
    pytest.param(b'{"x": 1', JSON, 400, "not valid JSON", id="json-syntax"),
    pytest.param(b"[1, 2]", JSON, 400, "must be an object, got list", id="json-list"),
    pytest.param(b'"x"', JSON, 400, "must be an object, got str", id="json-string"),
    pytest.param(b'{"x": "\xff"}', JSON, 400, "not UTF-8", id="json-not-utf8"),
    pytest.param(b"[" * 100_000, JSON, 400, "nested too deeply", id="json-deep"),
    pytest.param(b'{"x": ' + b"[" * 600 + b"]" * 600 + b"}", JSON, 400, "nested", id="deep-args"),
    pytest.param(b'{"x": ' + b"9" * 5000 + b"}", JSON, 400, "not valid JSON", id="json-huge-int"),
    pytest.param(b"x=hello", FORM, 400, "argument 'x'", id="form-not-json"),
    pytest.param(b"x=\xff", FORM, 400, "must be ASCII", id="form-raw-bytes"),
    pytest.param(b"x=%FF", FORM, 400, "not UTF-8 once percent-decoded", id="form-bad-escape"),
    pytest.param(b"x=1&_type=%22c2%22", FORM, 400, "'_type'", id="reserved-name"),
    pytest.param(b"z=1", FORM, 400, "add(x, y=1)", id="unknown-argument"),
    pytest.param(b"y=1", FORM, 400, "missing a required argument: 'x'", id="missing-argument"),
    pytest.param(b"x=1", {"Content-Type": "text/plain"}, 415, "text/plain", id="content-type"),
    pytest.param(b"x=1&" * 10_001, FORM, 400, "too many form fields", id="too-many-fields"),
    pytest.param(b"--x\r\nbad", MULTIPART_NO_BOUNDARY, 400, "multipart", id="multipart-boundary"),
    pytest.param(b"garbage", MULTIPART, 400, "missing a required", id="multipart-garbage"),
]


@pytest.mark.parametrize(("body", "headers", "status", "words"), BAD_BODIES)
def test_malformed_invocations(curl, add_url, still_serving, body, headers, status, words):
    refused(curl.post(add_url, data=body, headers=headers), status, words)


def test_wrong_types_in_queries(curl, add_url, still_serving):
    refused(curl.get("/job/?jids=abc"), 400, "positive integers", "'abc'")
    refused(curl.get("/job/?jids=-1"), 400, "positive integers")
    refused(curl.get("/job/?jids=" + "9" * 5000), 400, "positive integers")
    refused(curl.get("/job/"), 400, "jids is required")
    refused(curl.get("/job/?jids=" + ",".join(["1"] * 1001)), 400, "at most 1000 jids")
    refused(curl.get("/job/?jids=1&field=bogus"), 400, "unknown field 'bogus'")
    refused(curl.get("/job/?jids=1&field=args"), 400, "not served over HTTP")
    refused(curl.get("/job/result/?jid=1,2"), 400, "jid names one job")
    refused(curl.get("/job/result/?jid=%FF"), 400, "positive integers")
    refused(curl.post("/job/kill/", json={"jids": ["x"]}), 400, "positive integers")
    refused(curl.post("/job/kill/", json={"jids": True}), 400, "positive integers")
    refused(curl.post("/job/delete/", data=b"jids=1", headers=JSON), 400, "not valid JSON")


@pytest.mark.parametrize("content_type", [JSON, FORM])
def test_a_10_mb_body_is_413_not_a_crash(curl, add_url, still_serving, content_type):
    big = b'{"x": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    refused(curl.post(add_url, data=big, headers=content_type), 413, "request body")


def test_a_body_over_djangos_memory_limit_is_413(curl, add_url, still_serving):
    three_mb = json.dumps({"x": "a" * (3 * 1024 * 1024)})
    refused(curl.post(add_url, data=three_mb, headers=JSON), 413, "too large")


def test_missing_malformed_and_wrong_credentials(make_curl, key, add_url, still_serving):
    response = make_curl().get("/job/?jids=1")
    refused(response, 401, "HTTP Basic with api_key:api_secretkey")
    assert response.headers["WWW-Authenticate"] == 'Basic realm="picloud"'
    for header in ["Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"\xff:\xfe").decode()]:
        response = make_curl().get("/job/?jids=1", headers={"Authorization": header})
        refused(response, 401)
    refused(make_curl((key.key, "wrong")).post(add_url, data={"x": "1"}), 401, key.key)
    refused(make_curl(("9999999", key.secret)).get("/job/?jids=1"), 401, "'9999999'")


def test_a_deactivated_key_cannot_log_in(make_curl, key, add_url, still_serving):
    other = make_curl(key.auth)
    assert other.get("/api/rest/").status_code == 200
    key.row.active = False
    key.row.save()
    refused(other.get("/api/rest/"), 401, "inactive")
    key.row.active = True
    key.row.save()


def test_repeated_failed_logins_get_429_then_the_server_serves_again(
    make_curl, key, add_url, still_serving
):
    from django.core.cache import cache

    wrong = make_curl((key.key, "not-the-secret"))
    for _ in range(MAX_FAILURES):
        refused(wrong.get("/job/?jids=1"), 401)
    refused(wrong.get("/job/?jids=1"), 429, "too many failed logins")
    refused(make_curl(key.auth).get("/api/rest/"), 429)  # the address is paused, whoever it is
    cache.clear()  # the minute has passed
    assert make_curl(key.auth).get("/api/rest/").status_code == 200


def test_unknown_labels_paths_and_methods(curl, add_url, configured, still_serving):
    refused(curl.post(f"/r/{configured.key}/nope/", data={"x": "1"}), 404, "'nope'")
    refused(curl.post(f"/r/{configured.key}/nope/map/"), 404, "'nope'")
    refused(curl.post("/r/1234/add/", data={"x": "1"}), 404, "'add'")
    refused(curl.get(f"/r/{configured.key}/bad label!/"), 404)
    refused(curl.post(f"/r/{configured.key}/%FF/", data={"x": "1"}), 404)
    refused(curl.get("/api/rest/nope/"), 404, "'nope'")
    refused(curl.request("DELETE", "/api/rest/nope/"), 404, "'nope'")
    refused(curl.get("/job/nothing/"), 404, "/job/nothing/")
    refused(curl.get("/api/whatever"), 404)
    refused(curl.get("/job/kill/?jids=1"), 405, "use POST")
    refused(curl.request("PUT", add_url), 405)
    refused(curl.get(add_url + "map/"), 405)


def test_bad_publish_requests(curl, add_url, still_serving):
    refused(curl.post("/api/rest/", data={"label": "x"}), 415, "multipart")
    func = {"func": ("f.pickle", b"\x80\x05N.")}
    refused(curl.post("/api/rest/", data={"label": "x y"}, files=func), 400, "label 'x y'")
    refused(curl.post("/api/rest/", data={"label": "x"}, files={"other": b"1"}), 400, "'func'")
    refused(
        curl.post("/api/rest/", data={"label": "x", "out_encoding": "xml"}, files=func),
        400,
        "'json' or 'raw'",
    )
    for options, words in [
        ("[]", "JSON object"),
        ('{"_type": "x9"}', "_type 'x9'"),
        ('{"_priority": "high"}', "_priority must be an int"),
        ('{"_callback": 1}', "_callback"),
        ('{"_os_env_vars": ["HOME"]}', "_os_env_vars"),
        ('{"_bogus": 1}', "_bogus"),
        ("{", "not valid JSON"),
    ]:
        data = {"label": "x", "options": options}
        refused(curl.post("/api/rest/", data=data, files=func), 400, words)
    for parameters in ['[["x"]]', '[["x", "NOPE", false]]', '[["x", "VAR_KEYWORD", true]]']:
        data = {"label": "x", "parameters": parameters}
        refused(curl.post("/api/rest/", data=data, files=func), 400, "parameters")
    assert "x" not in curl.get("/api/rest/").json()["labels"]


def test_an_unreachable_broker_is_503_worth_a_retry(curl, add_url, still_serving):
    from tests.services import free_port

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PICLOUD_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")
        picloud.config.reload()
        response = curl.get("/job/?jids=1")
    picloud.config.reload()
    assert response.status_code == 503
    body = response.json()
    assert body["retry"] is True and "cannot reach the broker" in body["error_msg"]
