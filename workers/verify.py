"""Checking a chunk message before anything of it is unpickled: it must be signed by an active
api key (mirrored in Redis by the web UI), or be a run of a registered cron carrying the grant
its owner signed; its function and arguments must be the ones signed or granted."""

from __future__ import annotations

from typing import Any

from picloud import signing

REFUSED = "Job refused before anything of it ran: "


def problem(
    spec: dict[str, Any],
    key_state: list[bytes | None],
    payload: bytes | None,
    func_blob: bytes | None,
    cron_grant: bytes | None = None,
) -> str | None:
    """Why the message ``spec`` must not run, or None when it may.

    ``key_state`` is the mirrored (public key, active flag) of ``spec['key']``; ``payload`` and
    ``func_blob`` are the chunk's pickled arguments and function as read from Redis;
    ``cron_grant`` is the grant of the registered cron ``spec['cron']`` (None if there is
    none), read only for a cron's run."""
    key = spec.get("key")
    if not key or not (spec.get("sig") or spec.get("cron")):
        return REFUSED + "its message is not signed"
    public, active = key_state
    if public is None:
        return REFUSED + f"API key {key!r} is not known to this cluster"
    if active != b"1":
        return REFUSED + f"API key {key!r} is deactivated"
    if payload is None:
        return REFUSED + "its arguments are missing from the broker"
    if spec.get("cron") is not None:
        refusal = _grant_problem(spec, public.decode(), payload, cron_grant)
    else:
        refusal = _signature_problem(spec, public.decode(), payload)
    if refusal is not None:
        return REFUSED + refusal
    if func_blob is None:
        return REFUSED + "its function is missing from the broker"
    if signing.digest(func_blob) != spec.get("func"):
        return REFUSED + "its function is not the one it was signed with"
    return None


def _signature_problem(spec: dict[str, Any], public: str, payload: bytes) -> str | None:
    text = signing.signed_text(
        str(spec["key"]), int(spec["first"]), int(spec["count"]), signing.digest(payload), spec
    )
    if not signing.verify(public, str(spec["sig"]), text):
        return (
            "its signature does not match (the message or its arguments were changed, or it was "
            "replayed for other jobs)"
        )
    return None


def _grant_problem(
    spec: dict[str, Any], public: str, payload: bytes, cron_grant: bytes | None
) -> str | None:
    """A cron's run: the grant must be the owner's for this function, options and queue, the
    run must take no arguments, and the cron must still be registered with this grant."""
    label, grant = str(spec["cron"]), str(spec.get("grant") or "")
    text = signing.grant_text(str(spec["key"]), label, spec)
    if not signing.verify(public, grant, text):
        return (
            f"the grant of cron {label!r} does not match (its function, options or queue were "
            "changed, or the grant was not signed by the key's secret)"
        )
    if int(spec["count"]) != 1 or payload != signing.CRON_PAYLOAD:
        return f"a run of cron {label!r} must take no arguments, and its arguments were changed"
    if cron_grant is None or cron_grant.decode() != grant:
        return (
            f"cron {label!r} is no longer registered (it was deregistered, or registered again "
            "with another function or options, after this run was queued)"
        )
    return None
