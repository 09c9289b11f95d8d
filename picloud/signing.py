"""Signed job messages: the api secret seeds an Ed25519 key; the client signs each chunk
message (key, jids, function and argument digests, options), a worker verifies it with the
public half before it unpickles anything. The server stores only the public key, so a leaked
database or broker cannot sign jobs.

A job's own submissions are made by its supervisor, which cannot sign either: they carry the
signed message the job descends from (``Voucher``).

A cron's runs are fired by the server, which cannot sign: at register the client signs a
standing *grant* instead (key, cron label, function digest, options, queue), and each run
carries that grant in place of a signature. Workers accept it only for the fixed no-argument
payload and while the cron is registered (picloud.keys.cron)."""

from __future__ import annotations

import hashlib
import json
import pickle
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: Versions the signed text, so a later format cannot be confused with this one.
SCHEME = "picloud-sig-1"
#: Versions a cron's grant text (distinct from SCHEME: a grant is never a job signature).
GRANT_SCHEME = "picloud-grant-1"
#: The message spec fields a grant covers (with the key and the cron label).
GRANTED = ("func", "options", "queue")
#: The pickled (args, kwargs) of every cron run, and the chunk payload of one run.
CRON_ARGS = pickle.dumps(((), {}), 5)
CRON_PAYLOAD = pickle.dumps([CRON_ARGS], 5)


def digest(blob: bytes) -> str:
    """The content digest signatures name a blob by (sha256, hex)."""
    return hashlib.sha256(blob).hexdigest()


def _private_key(secret: str) -> Ed25519PrivateKey:
    seed = hashlib.sha256(f"{SCHEME}:{secret}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key(secret: str) -> str:
    """The public half (hex) of the signing key ``secret`` seeds: what the server stores."""
    raw = _private_key(secret).public_key().public_bytes_raw()
    return raw.hex()


def signed_text(api_key: str, first: int, count: int, payload_digest: str, spec: dict) -> bytes:
    """What a signature covers: the key, the jids ``first`` .. ``first+count-1``, the digest of
    the chunk's pickled arguments, and the message's spec (function digest, options, queue)."""
    fields = {k: v for k, v in spec.items() if k not in ("first", "key", "sig")}
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return f"{SCHEME}\n{api_key}\n{first}\n{count}\n{payload_digest}\n{body}".encode()


def grant_text(api_key: str, label: str, spec: dict[str, Any]) -> bytes:
    """What a cron's grant covers: the key, the label and the GRANTED fields of ``spec``."""
    fields = {name: spec.get(name) for name in GRANTED}
    body = json.dumps(
        {"key": api_key, "label": label, **fields}, sort_keys=True, separators=(",", ":")
    )
    return f"{GRANT_SCHEME}\n{body}".encode()


class MessageSigner(Protocol):
    """What ClusterEngine signs its messages with."""

    api_key: str

    def spec_fields(
        self, first: int, count: int, payload_digest: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        """The fields to add to a chunk's ``spec`` that let workers trust it."""
        ...


class Signer:
    """Signs on behalf of one api key."""

    def __init__(self, api_key: str, secret: str) -> None:
        self.api_key = api_key
        self._key = _private_key(secret)

    def sign(self, first: int, count: int, payload_digest: str, spec: dict[str, Any]) -> str:
        text = signed_text(self.api_key, first, count, payload_digest, spec)
        return self._key.sign(text).hex()

    def spec_fields(
        self, first: int, count: int, payload_digest: str, spec: dict[str, Any]
    ) -> dict[str, str]:
        return {"sig": self.sign(first, count, payload_digest, spec)}

    def grant(self, label: str, spec: dict[str, Any]) -> str:
        """A standing grant for the runs of cron ``label`` (``spec``: its GRANTED fields)."""
        return self._key.sign(grant_text(self.api_key, label, spec)).hex()


class GrantSigner:
    """Marks a cron's runs with the grant its owner signed at register (the server that fires
    them holds no secret)."""

    def __init__(self, api_key: str, label: str, grant: str) -> None:
        self.api_key = api_key
        self.label = label
        self.grant = grant

    def spec_fields(
        self, first: int, count: int, payload_digest: str, spec: dict[str, Any]
    ) -> dict[str, str]:
        return {"cron": self.label, "grant": self.grant}


class Voucher:
    """Marks the submissions of a running job, which its supervisor makes and cannot sign (it
    holds no secret): each carries the signed message the job descends from (``root``, with
    the digest of its arguments) and the submitting job's jid. Workers accept them while that
    job runs under the same key (workers.verify)."""

    def __init__(
        self,
        api_key: str,
        root: dict[str, Any],
        root_digest: str,
        parent: int,
        bundle: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.vouch = {"spec": root, "digest": root_digest}
        self.parent = parent
        #: the submitting job's own modules, which its jobs import too
        self.bundle = bundle

    def spec_fields(
        self, first: int, count: int, payload_digest: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        found: dict[str, Any] = {"vouch": self.vouch, "parent": self.parent}
        if self.bundle:
            found["bundle"] = self.bundle
        return found


def verify(public_hex: str, signature_hex: str, text: bytes) -> bool:
    """True when ``signature_hex`` is ``text`` signed by the key whose public half is given."""
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
        key.verify(bytes.fromhex(signature_hex), text)
    except (InvalidSignature, ValueError):
        return False
    return True
