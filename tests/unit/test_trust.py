"""What workers trust: records the fleet authority signed, unexpired, never older than the
newest seen (read or announced), about the key asked for."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from picloud.authority import Authority
from tests.services import TEST_AUTHORITY
from workers.trust import NO_AUTHORITY, Trust


def _record(signer: Authority = TEST_AUTHORITY, **fields) -> tuple[bytes, bytes]:
    data, signature = signer.sign(**{"kind": "apikey", "key": "7", **fields})
    return data, signature.encode()


def test_a_signed_active_key_is_trusted_and_gives_its_public_key():
    trust = Trust(TEST_AUTHORITY.public_key)
    public, refusal = trust.api_key("7", *_record(public="ab" * 32, active=True))
    assert (public, refusal) == ("ab" * 32, None)


def test_records_that_must_not_be_trusted_say_why():
    trust = Trust(TEST_AUTHORITY.public_key)
    stranger = Authority(Ed25519PrivateKey.generate())
    cases = {
        "not signed by this fleet's authority": _record(stranger, public="ab", active=True),
        "is deactivated": _record(public="ab", active=False),
        "not known to this cluster": _record(public=None, active=False),
        "about something else": _record(key="8", public="ab", active=True),
        "no record signed": (None, None),
    }
    for why, (data, signature) in cases.items():
        assert why in trust.api_key("7", data, signature)[1], why
    data, signature = _record(public="ab", active=True)
    tampered = json.dumps({**json.loads(data), "public": "cd"}).encode()
    assert "not signed" in trust.api_key("7", tampered, signature)[1]


def test_an_expired_record_is_refused():
    data, _ = _record(public="ab", active=True)
    fields = {**json.loads(data), "expires": 1.0}
    old = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    signature = TEST_AUTHORITY._key.sign(b"picloud-record-1\n" + old).hex().encode()
    assert "expired" in Trust(TEST_AUTHORITY.public_key).api_key("7", old, signature)[1]


def test_an_older_record_put_back_is_refused_once_a_newer_was_seen_or_announced():
    active = _record(public="ab", active=True)
    deactivated = _record(public="ab", active=False)
    seen = Trust(TEST_AUTHORITY.public_key)
    assert seen.api_key("7", *deactivated)[1] is not None
    assert "older than one this worker has seen" in seen.api_key("7", *active)[1]
    told = Trust(TEST_AUTHORITY.public_key)
    data, signature = deactivated
    told.learn(signature + b" " + data)
    assert "older than one" in told.api_key("7", *active)[1]


def test_a_worker_without_the_fleet_key_trusts_nothing():
    assert NO_AUTHORITY in Trust("").api_key("7", *_record(public="ab", active=True))[1]


def test_a_record_read_before_a_newer_one_was_announced_is_outdated_not_forged():
    """A worker read a key's record, then heard of a newer one before checking it: the read
    is outdated (read it again), which the newer record itself is not."""
    older, newer = _record(public="ab", active=True), _record(public="ab", active=True)
    trust = Trust(TEST_AUTHORITY.public_key)
    assert not trust.outdated("apikey 7", *older)
    data, signature = newer
    trust.learn(signature + b" " + data)
    assert trust.outdated("apikey 7", *older)
    assert not trust.outdated("apikey 7", *newer)
    assert trust.api_key("7", *newer) == ("ab", None)
    assert not trust.outdated("apikey 7", None, None)
