"""Checking a chunk message before anything of it is unpickled. Its api key must be one the
fleet authority vouches for and active (workers.trust). Then the message must be signed by
that key, or be a run of a registered cron carrying the grant its owner signed, or be vouched
for by a running job of the same key (a job's own cloud.call, submitted by its supervisor: it
carries the signed message it descends from). Its function and arguments must be the ones
signed, granted or stored with it."""

from __future__ import annotations

import time
from typing import Any

from picloud import signing
from workers.trust import Trust

REFUSED = "Job refused before anything of it ran: "
#: How long after its signed root a running job may still submit jobs of its own (seconds).
VOUCH_SECONDS = 7 * 24 * 3600.0


def problem(
    spec: dict[str, Any],
    trust: Trust,
    key_record: list[bytes | None],
    payload: bytes | None,
    func_blob: bytes | None,
    cron_record: list[bytes | None] | None = None,
    parent: list[bytes | None] | None = None,
) -> str | None:
    """Why the message ``spec`` must not run, or None when it may.

    ``key_record`` is the stored (record, signature) of ``spec['key']``; ``payload`` and
    ``func_blob`` are the chunk's pickled arguments and function as read from Redis;
    ``cron_record`` the (record, signature) of the cron its root names (read only for a cron
    run or its descendants); ``parent`` the (status, owner) of the job that vouches for it."""
    key = spec.get("key")
    if not key or not (spec.get("sig") or spec.get("cron") or spec.get("vouch")):
        return REFUSED + "its message is not signed"
    public, refusal = trust.api_key(str(key), *key_record)
    if refusal is not None:
        return REFUSED + refusal
    assert public is not None
    if payload is None:
        return REFUSED + "its arguments are missing from the broker"
    refusal = _origin_problem(spec, public, trust, payload, cron_record or [None, None], parent)
    if refusal is not None:
        return REFUSED + refusal
    if func_blob is None:
        return REFUSED + "its function is missing from the broker"
    if signing.digest(func_blob) != spec.get("func"):
        return REFUSED + "its function is not the one it was signed with"
    return None


def root_of(spec: dict[str, Any]) -> dict[str, Any]:
    """The signed message ``spec`` descends from: the one it vouches with, else itself."""
    vouch = spec.get("vouch")
    if isinstance(vouch, dict) and isinstance(vouch.get("spec"), dict):
        return vouch["spec"]
    return spec


def root_cron(spec: dict[str, Any]) -> str | None:
    """The label of the cron a message descends from (itself a run, or a job's submission
    inside one), else None."""
    cron = root_of(spec).get("cron")
    return None if cron is None else str(cron)


def _origin_problem(
    spec: dict[str, Any],
    public: str,
    trust: Trust,
    payload: bytes,
    cron_record: list[bytes | None],
    parent: list[bytes | None] | None,
) -> str | None:
    key = str(spec["key"])
    if spec.get("vouch") is not None:
        return _vouch_problem(spec, public, trust, cron_record, parent)
    if spec.get("cron") is not None:
        refusal = _grant_problem(spec, public, trust, cron_record)
        if refusal is None and (int(spec["count"]) != 1 or payload != signing.CRON_PAYLOAD):
            label = spec["cron"]
            return f"a run of cron {label!r} must take no arguments, and its arguments were changed"
        return refusal
    text = signing.signed_text(
        key, int(spec["first"]), int(spec["count"]), signing.digest(payload), spec
    )
    if not signing.verify(public, str(spec["sig"]), text):
        return (
            "its signature does not match (the message or its arguments were changed, or it was "
            "replayed for other jobs)"
        )
    return None


def _grant_problem(
    spec: dict[str, Any], public: str, trust: Trust, cron_record: list[bytes | None]
) -> str | None:
    """A cron's run (or ``spec`` is the root of a job's submission inside one): the grant must
    be the owner's for this function, options and queue, and the cron still registered with it
    in a record the fleet authority signed."""
    key, label, grant = str(spec["key"]), str(spec["cron"]), str(spec.get("grant") or "")
    if not signing.verify(public, grant, signing.grant_text(key, label, spec)):
        return (
            f"the grant of cron {label!r} does not match (its function, options or queue were "
            "changed, or the grant was not signed by the key's secret)"
        )
    if trust.cron_grant(key, label, *cron_record) != grant:
        return (
            f"cron {label!r} is no longer registered (it was deregistered, or registered again "
            "with another function or options, after this run was queued)"
        )
    return None


def _vouch_problem(
    spec: dict[str, Any],
    public: str,
    trust: Trust,
    cron_record: list[bytes | None],
    parent: list[bytes | None] | None,
) -> str | None:
    """A job's own submission: its root (the signed message the submitting job descends from)
    must verify, be recent, and the submitting job must be running under the same key."""
    vouch, key, root = spec["vouch"], str(spec["key"]), root_of(spec)
    if root is spec or str(root.get("key")) != key or "vouch" in root:
        return "its vouching job's message is not one of this key's"
    if root.get("cron") is not None:
        refusal = _grant_problem(root, public, trust, cron_record)
    else:
        text = signing.signed_text(
            key, int(root["first"]), int(root["count"]), str(vouch.get("digest")), root
        )
        refusal = None if signing.verify(public, str(root.get("sig")), text) else "forged"
        if refusal is None and time.time() - float(root.get("ts") or 0) > VOUCH_SECONDS:
            refusal = f"its root job was submitted more than {VOUCH_SECONDS / 86400:g} days ago"
    if refusal is not None:
        return f"the job that submitted it cannot vouch for it ({refusal})"
    status, owner = parent or (None, None)
    if status != b"processing" or owner is None or owner.decode() != key:
        return f"the job that submitted it ({spec.get('parent')}) is not running"
    return None
