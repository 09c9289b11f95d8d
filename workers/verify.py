"""Checking a chunk message before anything of it is unpickled: it must be signed by an active
api key (mirrored in Redis by the web UI), and its function and arguments must be the ones it
was signed with."""

from __future__ import annotations

from typing import Any

from picloud import signing

REFUSED = "Job refused before anything of it ran: "


def problem(
    spec: dict[str, Any],
    key_state: list[bytes | None],
    payload: bytes | None,
    func_blob: bytes | None,
) -> str | None:
    """Why the message ``spec`` must not run, or None when it may.

    ``key_state`` is the mirrored (public key, active flag) of ``spec['key']``; ``payload`` and
    ``func_blob`` are the chunk's pickled arguments and function as read from Redis."""
    key, signature = spec.get("key"), spec.get("sig")
    if not key or not signature:
        return REFUSED + "its message is not signed"
    public, active = key_state
    if public is None:
        return REFUSED + f"API key {key!r} is not known to this cluster"
    if active != b"1":
        return REFUSED + f"API key {key!r} is deactivated"
    if payload is None:
        return REFUSED + "its arguments are missing from the broker"
    text = signing.signed_text(
        str(key), int(spec["first"]), int(spec["count"]), signing.digest(payload), spec
    )
    if not signing.verify(public.decode(), str(signature), text):
        return REFUSED + (
            "its signature does not match (the message or its arguments were changed, or it was "
            "replayed for other jobs)"
        )
    if func_blob is None:
        return REFUSED + "its function is missing from the broker"
    if signing.digest(func_blob) != spec.get("func"):
        return REFUSED + "its function is not the one it was signed with"
    return None
