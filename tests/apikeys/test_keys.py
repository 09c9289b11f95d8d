"""API keys: secrets stored only as a slow hash and a public key, shown once; the workers'
mirror in Redis follows every change; createapikey; the admin's add page and actions."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.urls import reverse

from picloud import keys, signing
from tests.services import picloud_env, signed_record
from webui.apikeys import issuing, mirror, resign
from webui.apikeys.models import ApiKey

pytestmark = pytest.mark.django_db


def _mirrored(broker, key: str) -> dict:
    """What workers are told of ``key``: the record the fleet authority signed."""
    return signed_record(broker, keys.api_key(key)) or {}


def _stored_text(api_key: ApiKey) -> str:
    return " ".join(str(v) for v in ApiKey.objects.filter(pk=api_key.pk).values().get().values())


def test_issued_key_stores_only_a_hash_and_the_public_key(broker):
    api_key, secret = issuing.issue_key(description="laptop")
    assert re.fullmatch(r"[0-9a-f]{40}", secret) and re.fullmatch(r"\d{7}", api_key.key)
    assert secret not in _stored_text(api_key)
    assert api_key.secret_hash.startswith("pbkdf2_sha256$")
    assert check_password(secret, api_key.secret_hash)
    assert api_key.public_key == signing.public_key(secret)
    mirrored = _mirrored(broker, api_key.key)
    assert mirrored["public"] == api_key.public_key and mirrored["active"] is True


def test_authenticate_needs_the_right_secret_and_an_active_key(broker):
    api_key, secret = issuing.issue_key()
    assert issuing.authenticate(api_key.key, secret) == api_key
    assert issuing.authenticate(api_key.key, secret[:-1] + "x") is None
    assert issuing.authenticate("nope", secret) is None
    api_key.active = False
    api_key.save()
    assert issuing.authenticate(api_key.key, secret) is None
    assert _mirrored(broker, api_key.key)["active"] is False


def test_a_chosen_key_id_that_exists_is_refused(broker):
    issuing.issue_key(key="1234567")
    with pytest.raises(ValueError, match="'1234567' already exists"):
        issuing.issue_key(key="1234567")


def test_deleting_a_key_withdraws_it_and_publish_all_restores_the_rest(broker):
    kept, _ = issuing.issue_key()
    gone, _ = issuing.issue_key()
    gone.delete()
    assert _mirrored(broker, gone.key)["public"] is None  # a signed tombstone
    broker.flushall()  # a Redis that restarted empty
    assert mirror.publish_all() == 1
    assert _mirrored(broker, kept.key)["public"] == kept.public_key


def test_createapikey_prints_the_secret_once(broker, capsys, django_user_model):
    django_user_model.objects.create_user("ada", password="pw")
    call_command("createapikey", "--description", "ci", "--user", "ada")
    out = capsys.readouterr().out
    key = re.search(r"api_key:\s+(\d+)", out).group(1)
    secret = re.search(r"api_secretkey:\s+([0-9a-f]{40})", out).group(1)
    stored = ApiKey.objects.get(key=key)
    assert stored.user.username == "ada" and stored.description == "ci"
    assert check_password(secret, stored.secret_hash) and secret not in _stored_text(stored)
    call_command("createapikey", "--json")
    made = json.loads(capsys.readouterr().out)
    assert issuing.authenticate(made["api_key"], made["api_secretkey"]) is not None
    with pytest.raises(CommandError, match="no Django user named 'bob'"):
        call_command("createapikey", "--user", "bob")


def test_admin_add_shows_the_secret_once(broker, admin_client):
    response = admin_client.post(
        reverse("admin:apikeys_apikey_add"),
        {"key": "7654321", "description": "from the admin", "active": "on"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    secret = re.search(r'id="api-secretkey">([0-9a-f]{40})<', page).group(1)
    stored = ApiKey.objects.get(key="7654321")
    assert issuing.authenticate("7654321", secret) == stored
    change = admin_client.get(reverse("admin:apikeys_apikey_change", args=[stored.pk]))
    assert change.status_code == 200 and secret not in change.content.decode()
    listing = admin_client.get(reverse("admin:apikeys_apikey_changelist"))
    assert "7654321" in listing.content.decode() and secret not in listing.content.decode()


def test_admin_actions_activate_and_deactivate(broker, admin_client):
    one, _ = issuing.issue_key()
    two, _ = issuing.issue_key()
    url = reverse("admin:apikeys_apikey_changelist")
    selected = {"_selected_action": [one.pk, two.pk]}
    response = admin_client.post(url, {"action": "deactivate", **selected}, follow=True)
    assert "Deactivated 2 API key(s)" in response.content.decode()
    assert not ApiKey.objects.filter(active=True).exists()
    assert _mirrored(broker, one.key)["active"] is False
    admin_client.post(url, {"action": "activate", "_selected_action": [one.pk]})
    assert _mirrored(broker, one.key)["active"] is True
    assert _mirrored(broker, two.key)["active"] is False


def test_admin_list_filters_and_searches(broker, admin_client, django_user_model):
    user = django_user_model.objects.create_user("grace", password="pw")
    issuing.issue_key(key="1111111", description="batch jobs", user=user)
    issuing.issue_key(key="2222222", description="cron", active=False)
    url = reverse("admin:apikeys_apikey_changelist")
    assert "1111111" not in admin_client.get(url, {"active__exact": "0"}).content.decode()
    found = admin_client.get(url, {"q": "grace"}).content.decode()
    assert "1111111" in found and "2222222" not in found


def test_records_are_signed_anew_before_they_expire(broker):
    api_key, _ = issuing.issue_key()
    first = _mirrored(broker, api_key.key)
    keys_signed, _ = resign.resign_all()
    again = _mirrored(broker, api_key.key)
    assert keys_signed >= 1 and again["at"] > first["at"] and again["expires"] > first["expires"]
    assert again["public"] == first["public"] and again["active"] is True


def test_fleetkey_makes_the_authority_once_and_prints_its_public_key(tmp_path, capsys):
    path = tmp_path / "authority.key"
    with picloud_env(fleet_authority_file=str(path)):
        call_command("fleetkey", "--quiet")
        first = capsys.readouterr().out.strip()
        call_command("fleetkey")
        again = capsys.readouterr().out
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert f"PICLOUD_FLEET_PUBLIC_KEY={first}" in again
    assert path.stat().st_mode & 0o777 == 0o600
