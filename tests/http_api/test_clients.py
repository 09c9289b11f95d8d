"""The Python clients against the live server: cloud.rest (publish, list, info, invoke,
invoke_map, remove) and cloud.account (keys of a web UI user), all over HTTP."""

from __future__ import annotations

import io

import pytest

import cloud.account
import cloud.rest
import picloud.config
from picloud import account, rest
from picloud.exceptions import CloudException, InvalidOptionError
from tests.http_api import funcs
from tests.http_api.conftest import refused
from webui.apikeys.models import ApiKey

pytestmark = pytest.mark.slow


def test_cloud_names_are_picloud_modules():
    assert cloud.rest.publish is rest.publish and cloud.rest.register is rest.publish
    assert cloud.account.create_key is account.create_key


def test_publish_list_info_republish_remove(configured, server):
    url = rest.publish(funcs.add, "adder", _priority=3)
    assert url == f"{server}/r/{configured.key}/adder/"
    assert rest.register(funcs.echo, "echo.v1", out_encoding="raw") == url.replace(
        "adder", "echo.v1"
    )
    assert rest.list() == ["adder", "echo.v1"]
    info = rest.info("adder")
    assert {k: info[k] for k in ("label", "output_encoding", "uri", "signature", "version")} == {
        "label": "adder",
        "output_encoding": "json",
        "uri": url,
        "signature": "(x, y=1)",
        "version": 1,
    }
    assert info["description"] == "Add y to x." and info["function"] == "tests.http_api.funcs.add"
    rest.publish(funcs.echo, "adder")
    assert rest.info("adder")["version"] == 2 and rest.info("adder")["signature"] == "(value)"
    assert rest.remove("adder") is None
    rest.deregister("echo.v1")
    assert rest.list() == []
    with pytest.raises(CloudException, match="no published function 'adder'"):
        rest.remove("adder")
    with pytest.raises(CloudException, match="no published function 'adder'"):
        rest.invoke("adder", x=1)


def test_invoke_and_invoke_map_run_jobs_on_the_pools(configured, cloud_as):
    rest.publish(funcs.add, "add", _type="c2")
    rest.publish(lambda text, times=2: text * times, "repeat")  # pickled by value
    mine = cloud_as(configured)
    jid = rest.invoke("add", x=1, y=2)
    assert mine.result(jid, timeout=30) == 3
    assert mine.info(jid, ["queue", "label"])[jid] == {
        "queue": "c2",
        "label": f"r/{configured.key}/add",
    }
    jids = rest.invoke_map("add", x=[1, 2, 3], y=[10])
    assert isinstance(jids, range) and len(jids) == 3
    assert mine.result(jids, timeout=30) == [11, 12, 13]
    assert mine.result(rest.invoke("repeat", text="ab"), timeout=30) == "abab"
    rest.publish(funcs.size_of, "size")
    assert mine.result(rest.invoke("size", data=io.BytesIO(b"12345")), timeout=30) == 5


def test_client_side_checks_raise_before_any_request(configured):
    for label in ["with space", "é", "a/b", "..", 5]:
        with pytest.raises(TypeError, match="Label can only consist"):
            rest.publish(funcs.add, label)
    with pytest.raises(TypeError, match="not callable"):
        rest.publish(5, "x")
    with pytest.raises(ValueError, match="'json' or 'raw'"):
        rest.publish(funcs.add, "x", out_encoding="xml")
    with pytest.raises(ValueError, match="_callback"):
        rest.publish(funcs.add, "x", _callback=print)
    with pytest.raises(InvalidOptionError, match="_type 'x9'"):
        rest.publish(funcs.add, "x", _type="x9")
    with pytest.raises(TypeError, match="unexpected keyword argument 'y'"):
        rest.publish(funcs.add, "x", y=2)
    with pytest.raises(TypeError, match="x must map to an iterable"):
        rest.invoke_map("x", x=5)
    with pytest.raises(ValueError, match="x cannot be bound to an empty list"):
        rest.invoke_map("x", x=[])
    with pytest.raises(ValueError, match="Expected 2"):
        rest.invoke_map("x", x=[1, 2], y=[1, 2, 3])
    with pytest.raises(ValueError, match="Maximum is 500"):
        rest.invoke_map("x", x=range(501))
    with pytest.raises(TypeError, match="x is not json encodable"):
        rest.invoke("x", x={1, 2})
    assert rest.list() == []


def test_server_errors_surface_as_cloud_exceptions(configured):
    rest.publish(funcs.add, "add")
    with pytest.raises(CloudException, match="unexpected keyword argument 'z'") as caught:
        rest.invoke("add", x=1, z=2)
    assert caught.value.status == 400


def test_no_server_configured_says_how_to_configure_it(configured, monkeypatch):
    monkeypatch.setenv("PICLOUD_SERVER_URL", "")
    picloud.config.reload()
    with pytest.raises(CloudException, match="no server_url configured"):
        rest.list()


@pytest.fixture
def alice(django_user_model, configured):
    django_user_model.objects.create_user("alice", password="alice-pw")
    return "alice", "alice-pw"


def test_account_keys_over_http(alice, make_curl, django_user_model):
    made = account.create_key(*alice)
    assert set(made) == {"api_key", "api_secretkey", "private_key", "active", "note"}
    assert isinstance(made["api_key"], int) and len(made["api_secretkey"]) == 40
    assert made["active"] is True and made["private_key"] is None
    other = account.create_key(*alice)["api_key"]
    assert sorted(account.list_keys(*alice)) == sorted([made["api_key"], other])
    got = account.get_key(*alice, made["api_key"])
    assert got == {**made, "api_secretkey": None}  # never stored, so never shown again
    assert account.get_key_by_key(made["api_key"], made["api_secretkey"]) == got

    assert account.deactivate_key(*alice, other) is True
    assert account.list_keys(*alice, active_only=True) == [made["api_key"]]
    assert account.get_key(*alice, other)["active"] is False
    assert ApiKey.objects.get(key=str(other)).active is False
    assert account.activate_key("alice", "alice-pw", str(other)) is True
    assert sorted(account.list_keys(*alice, active_only=True)) == sorted([made["api_key"], other])

    # the new key works at once for jobs (it is on the workers' Redis too)
    key = (str(made["api_key"]), made["api_secretkey"])
    assert make_curl(key).get("/api/rest/").json() == {"labels": []}


def test_account_refusals(alice, django_user_model, make_key, make_curl):
    with pytest.raises(CloudException, match="wrong password") as caught:
        account.list_keys("alice", "nope")
    assert caught.value.status == 401
    bob = django_user_model.objects.create_user("bob", password="bob-pw")
    bobs = make_key(user=bob)
    with pytest.raises(CloudException, match=f"has no API key '{bobs.key}'"):
        account.get_key(*alice, bobs.key)
    with pytest.raises(CloudException, match="has no API key"):
        account.deactivate_key(*alice, bobs.key)
    assert ApiKey.objects.get(key=bobs.key).active is True
    with pytest.raises(CloudException, match="wrong secret"):
        account.get_key_by_key(bobs.key, "wrong")
    as_alice = make_curl(alice)
    refused(as_alice.get("/api/account/keys/?active_only=maybe"), 400, "active_only")
    refused(as_alice.post("/api/account/keys/1/activate/"), 404, "has no API key '1'")
    refused(as_alice.get("/api/account/keys/1/activate/"), 405)
    refused(make_curl().get("/api/account/keys/"), 401, "username:password")
