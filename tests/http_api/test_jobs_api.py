"""PiCloud's REST API as a curl user calls it, on the live server with real workers: invoke a
published function (form fields or JSON), map it, poll the status, read the result (JSON or
raw) and info, kill and delete; other keys' jobs; invocations in the admin."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.urls import reverse

from picloud import rest
from tests.http_api import funcs
from tests.http_api.conftest import refused
from webui.api import auth
from webui.published.models import Invocation, PublishedFunction

pytestmark = pytest.mark.slow


@pytest.fixture
def published(configured):
    """The test functions published as the test's key: label -> invoke path."""
    rest.publish(funcs.add, "add")
    rest.publish(funcs.echo, "echo")
    rest.publish(funcs.greet, "greet", out_encoding="raw")
    rest.publish(funcs.all_bytes, "bytes", out_encoding="raw")
    rest.publish(funcs.add, "add-raw", out_encoding="raw")
    rest.publish(funcs.a_set, "set")
    rest.publish(funcs.a_date, "date")
    rest.publish(funcs.size_of, "size")
    rest.publish(funcs.shout, "shout", _type="c2")
    rest.publish(funcs.wait_for_gate, "gated")
    return {label: f"/r/{configured.key}/{label}/" for label in rest.list()}


def test_servers_list_names_this_server(make_curl, server):
    response = make_curl().get("/servers/list/")
    assert response.status_code == 200
    assert response.json() == {"servers": [server + "/"]}


def test_invoke_with_form_fields_then_poll_and_read_the_result(curl, published):
    response = curl.post(published["add"], data={"x": "2", "y": "40"})
    assert response.status_code == 200, response.text
    jid = response.json()["jid"]
    assert isinstance(jid, int)
    assert curl.result(jid) == 42
    # the trailing slash is optional, as in the URIs PiCloud handed out
    again = curl.post(published["add"].rstrip("/"), data={"x": json.dumps(1)}).json()["jid"]
    assert curl.result(again) == 2


def test_invoke_with_a_json_body(curl, published):
    value = {"list": [1, 2.5, None, True], "text": "ünïcode"}
    jid = curl.post(published["echo"], json={"value": value}).json()["jid"]
    assert curl.result(jid) == value


def test_a_file_argument_arrives_as_bytes(curl, published):
    data = bytes(range(256)) * 10
    jid = curl.post(published["size"], files={"data": ("blob.bin", data)}).json()["jid"]
    assert curl.result(jid) == len(data)


def test_job_info_fields(curl, published):
    jid = curl.post(published["shout"], data={"text": json.dumps("hi there")}).json()["jid"]
    assert curl.wait(jid) == "done"
    info = curl.get(f"/job/?jids={jid}").json()["info"]
    assert list(info) == [str(jid)]
    assert set(info[str(jid)]) == {"status", "exception", "runtime", "stderr", "stdout"}
    assert info[str(jid)]["stdout"] == "HI THERE\n" and info[str(jid)]["exception"] is None
    chosen = curl.get(f"/job/?jids={jid}&field=status&field=label&field=queue&field=created")
    fields = chosen.json()["info"][str(jid)]
    label = published["shout"].strip("/")
    assert fields["status"] == "done" and fields["label"] == label and fields["queue"] == "c2"
    assert re.match(r"\d{4}-\d\d-\d\dT", fields["created"])
    every = curl.get(f"/job/?jids={jid},{jid}&field=all").json()["info"][str(jid)]
    assert "args" not in every and every["attempts"] == 1


def test_raw_results_are_the_bare_bytes(curl, published):
    jid = curl.post(published["greet"], data={"name": '"bob"'}).json()["jid"]
    assert curl.wait(jid) == "done"
    response = curl.get(f"/job/result/?jid={jid}")
    assert response.status_code == 200
    assert response.content == "héllo bob".encode()
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    jid = curl.post(published["bytes"]).json()["jid"]
    assert curl.wait(jid) == "done"
    response = curl.get(f"/job/result/?jid={jid}")
    assert response.content == bytes(range(256))
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_results_that_do_not_fit_the_encoding_are_4xx_naming_the_type(curl, published):
    jid = curl.post(published["add-raw"], data={"x": "1"}).json()["jid"]
    assert curl.wait(jid) == "done"
    refused(curl.get(f"/job/result/?jid={jid}"), 422, "is a int", "str or bytes")
    jid = curl.post(published["set"]).json()["jid"]
    assert curl.wait(jid) == "done"
    refused(curl.get(f"/job/result/?jid={jid}"), 422, "a set has no JSON form")
    jid = curl.post(published["date"]).json()["jid"]
    assert curl.wait(jid) == "done"
    refused(curl.get(f"/job/result/?jid={jid}"), 422, "datetime.datetime", "out_encoding='raw'")
    # the job itself is fine: Python clients read it
    assert curl.status(jid) == "done"


def test_map_broadcasts_one_item_and_zips_equal_lengths(curl, published):
    fields = [("x", "1"), ("x", "2"), ("x", "3"), ("y", "10")]
    response = curl.post(published["add"] + "map/", data=fields)
    assert response.status_code == 200, response.text
    first, stop = map(int, response.json()["jids"].split("-"))
    assert stop - first == 3
    assert [curl.result(jid) for jid in range(first, stop)] == [11, 12, 13]
    as_json = curl.post(published["add"] + "map/", json={"x": [5, 6], "y": [1, 2]}).json()
    first, stop = map(int, as_json["jids"].split("-"))
    assert [curl.result(jid) for jid in range(first, stop)] == [6, 8]


def test_map_refuses_mismatched_lengths_and_more_than_500_jobs(curl, published):
    url = published["add"] + "map/"
    refused(
        curl.post(url, data=[("x", "1"), ("x", "2"), ("y", "1"), ("y", "2"), ("y", "3")]),
        400,
        "different numbers of items",
        "x: 2",
        "y: 3",
    )
    refused(curl.post(url, data=[("x", str(i)) for i in range(501)]), 400, "at most 500 jobs")
    refused(curl.post(url, json={"x": 5}), 400, "'x' must be a JSON list")
    refused(curl.post(url, json={"x": []}), 400, "'x' has no items")
    refused(curl.post(published["add"], data=[("x", "1"), ("x", "2")]), 400, "sent 2 times")


def test_result_is_455_until_the_job_is_done(curl, published, gate):
    jid = curl.post(published["gated"], data={"path": json.dumps(gate.path)}).json()["jid"]
    response = curl.get(f"/job/result/?jid={jid}")
    assert response.status_code == 455
    assert response.json() == {
        "error_code": 455,
        "error_msg": "Requested job is not done.",
        "retry": False,
    }
    assert curl.status(jid) in ("queued", "processing")
    gate.open()
    assert curl.result(jid) == "opened"


def test_delete_kills_an_unfinished_job_first(curl, published, gate):
    jid = curl.post(published["gated"], data={"path": json.dumps(gate.path)}).json()["jid"]
    response = curl.post(f"/job/delete/?jids={jid}")
    assert response.status_code == 200 and response.json() == {"deleted": [jid]}
    refused(curl.get(f"/job/?jids={jid}"), 404, f"no job {jid}")


def test_kill_then_delete(curl, published, gate):
    jid = curl.post(published["gated"], data={"path": json.dumps(gate.path)}).json()["jid"]
    response = curl.post(f"/job/kill/?jids={jid}")
    assert response.status_code == 200 and response.json() == {"killed": [jid]}
    assert curl.wait(jid) == "killed"
    refused(curl.get(f"/job/result/?jid={jid}"), 456, f"job {jid}", "'killed'")
    response = curl.post("/job/delete/", data={"jids": str(jid)})
    assert response.status_code == 200 and response.json() == {"deleted": [jid]}
    refused(curl.get(f"/job/?jids={jid}"), 404, f"no job {jid}")


def test_another_keys_jid_answers_exactly_like_a_missing_one(make_curl, make_key, curl, published):
    mine = curl.post(published["add"], data={"x": "1"}).json()["jid"]
    assert curl.result(mine) == 2
    other = make_curl(make_key().auth)
    missing = mine + 1_000_000
    for method, path in [
        ("GET", "/job/?jids={}"),
        ("GET", "/job/?jids={}&field=status"),
        ("GET", "/job/result/?jid={}"),
        ("POST", "/job/kill/?jids={}"),
        ("POST", "/job/delete/?jids={}"),
    ]:
        theirs = other.request(method, path.format(mine))
        absent = other.request(method, path.format(missing))
        assert theirs.status_code == absent.status_code == 404
        assert theirs.json() == json.loads(absent.text.replace(str(missing), str(mine)))
    assert curl.result(mine) == 2  # untouched


def test_function_info_over_get(curl, published, server, configured):
    response = curl.get(published["add"])
    assert response.status_code == 200
    info = response.json()
    assert {k: info[k] for k in ("label", "output_encoding", "signature", "description")} == {
        "label": "add",
        "output_encoding": "json",
        "signature": "(x, y=1)",
        "description": "Add y to x.",
    }
    assert info["uri"] == f"{server}/r/{configured.key}/add/" and info["version"] == 1


def test_keys_of_the_same_user_may_invoke_others_may_not(
    key, make_key, make_curl, published, django_user_model, cloud_as
):
    owner = django_user_model.objects.create_user("alice", password="pw")
    key.row.user = owner
    key.row.save(update_fields=["user"])
    sibling = make_key(user=owner)
    stranger = make_key(user=django_user_model.objects.create_user("eve", password="pw"))
    jid = make_curl(sibling.auth).post(published["add"], data={"x": "4"}).json()["jid"]
    assert cloud_as(sibling).result(jid, timeout=30) == 5  # the invoker's job
    unknown = make_curl(stranger.auth).post(published["add"].replace("add", "nope"))
    answer = make_curl(stranger.auth).post(published["add"], data={"x": "4"})
    refused(answer, 404, "no published function 'add'")
    assert unknown.status_code == 404


def test_invocations_are_recorded_and_shown_in_the_admin(curl, published, admin_client):
    single = curl.post(published["add"], data={"x": "1"}).json()["jid"]
    first, stop = map(
        int,
        curl.post(published["add"] + "map/", data=[("x", "1"), ("x", "2")])
        .json()["jids"]
        .split("-"),
    )
    recorded = Invocation.objects.filter(label="add").order_by("first_jid")
    assert [(i.first_jid, i.count) for i in recorded] == [(single, 1), (first, stop - first)]
    function = PublishedFunction.objects.get(label="add")
    page = admin_client.get(
        reverse("admin:published_publishedfunction_change", args=[function.pk])
    ).content.decode()
    assert f">{single}<" in page and f">{first}-{stop - 1}<" in page
    assert "(x, y=1)" in page and f"r/{function.owner.key}/add" in page
    listing = admin_client.get(reverse("admin:published_publishedfunction_changelist"))
    assert listing.status_code == 200 and "gated" in listing.content.decode()
    invocations = admin_client.get(reverse("admin:published_invocation_changelist"))
    assert invocations.status_code == 200 and str(single) in invocations.content.decode()


def test_last_used_moves_forward_but_is_not_written_on_every_request(curl, key, monkeypatch):
    assert key.row.last_used is None
    assert curl.get("/api/account/key/").status_code == 200
    key.row.refresh_from_db()
    first = key.row.last_used
    assert first is not None
    assert curl.get("/api/account/key/").status_code == 200
    key.row.refresh_from_db()
    assert key.row.last_used == first  # within LAST_USED_STEP: no write
    monkeypatch.setattr(auth, "LAST_USED_STEP", datetime.timedelta(0))  # a step later
    assert curl.get("/api/account/key/").status_code == 200
    key.row.refresh_from_db()
    assert key.row.last_used > first
