"""Firing crons: the Celery task django-celery-beat sends for each scheduled run, and ``fire``,
which submits one run as an ordinary job carrying the cron's grant (picloud.signing). The web
UI's manual_run calls ``fire`` too. Only Redis is read: workers need no database.

Two beat processes started by mistake send each firing twice; the publishing process stamps
the message with the time it was sent, and the firing takes a lock per (cron, minute), so only
one of the two makes a job."""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any

from celery.signals import before_task_publish

from picloud import broker, keys, signing
from picloud.engines.base import Submission
from picloud.engines.cluster.engine import ClusterEngine
from picloud.exceptions import CloudException, NoWorkerWarning
from picloud.options import parse_options
from workers.celery_app import app
from workers.trust import trust

log = logging.getLogger("picloud.cron")

FIRE_TASK = "picloud.fire_cron"
#: Message header the publishing process (beat) adds: when it sent the firing (unix time).
SENT_HEADER = "picloud_sent"
#: Seconds a (cron, minute) lock is kept: far longer than two beats' firings can lie apart.
LOCK_SECONDS = 3600

#: Record the run on the cron's hash, unless the cron was deregistered meanwhile.
_RECORD_RUN = """
if redis.call('HEXISTS', KEYS[1], 'func') == 1 then
  redis.call('HSET', KEYS[1], 'last_run', ARGV[1], 'last_jid', ARGV[2])
end
"""


@dataclass(frozen=True)
class Fired:
    """One run made: its jid, and its queue if no live worker serves it."""

    jid: int
    unserved: str | None


def fire(url: str, api_key: str, label: str, minute: int | None = None) -> Fired | None:
    """Submit a run of cron ``label`` of ``api_key`` now; None if the cron is not registered,
    its key is deactivated, or (``minute`` given: a scheduled firing) that minute's run was
    already made. CloudException if its function is missing from the broker."""
    client = broker.connect(url)
    try:
        cron_key = keys.cron(api_key, label)
        pipe = client.pipeline(transaction=False)
        pipe.hgetall(cron_key)
        pipe.hmget(keys.api_key(api_key), "record", "sig")
        found, key_record = pipe.execute()
        state = {k.decode(): v.decode() for k, v in found.items()}
        _, refusal = trust().api_key(api_key, *key_record)
        if "func" not in state or refusal is not None:
            why = "is not registered" if "func" not in state else f"is refused: {refusal}"
            log.warning("cron %r of API key %s %s: not fired", label, api_key, why)
            return None
        lock = keys.cron_firing(api_key, label, minute) if minute is not None else None
        if lock and not client.set(lock, "1", nx=True, ex=LOCK_SECONDS):
            log.info("cron %r of API key %s already fired for minute %d", label, api_key, minute)
            return None
        func_blob = client.get(keys.function(state["func"]))
        if func_blob is None:
            raise CloudException(f"the function of cron {label!r} is missing from the broker")
        try:
            fired = _submit(url, api_key, label, state, func_blob)
        except BaseException:
            if lock:  # a redelivered firing may try again
                client.delete(lock)
            raise
        client.eval(_RECORD_RUN, 1, cron_key, repr(time.time()), fired.jid)
        return fired
    finally:
        client.close()


def _submit(url: str, api_key: str, label: str, state: dict[str, str], blob: bytes) -> Fired:
    options = parse_options({**json.loads(state["options"]), "_label": label})
    signer = signing.GrantSigner(api_key, label, state["grant"])
    engine = ClusterEngine(url, signer=signer, jid_block=1)
    submission = Submission(blob, state.get("funcname", ""), [signing.CRON_ARGS], options)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NoWorkerWarning)
            jids = engine.submit(submission)
    finally:
        engine.close()
    unserved = [w.message.queue for w in caught if isinstance(w.message, NoWorkerWarning)]
    return Fired(jids[0], unserved[0] if unserved else None)


@app.task(name=FIRE_TASK, bind=True, ignore_result=True)
def fire_cron(self: Any, api_key: str, label: str) -> None:
    """Beat's firing of cron ``label``: one run per cron and minute, however many beats."""
    fired = fire(broker.broker_url(), api_key, label, int(_sent(self.request) // 60))
    if fired is not None:
        log.info("cron %r of API key %s fired: job %d", label, api_key, fired.jid)


def _sent(request: Any) -> float:
    """When the firing was sent (its SENT_HEADER, a message header or, when applied
    locally, one of ``request.headers``), else now."""
    sent = request.get(SENT_HEADER)
    if sent is None:
        sent = (request.get("headers") or {}).get(SENT_HEADER)
    return float(sent) if sent is not None else time.time()


@before_task_publish.connect
def stamp_firing(sender: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    """In the process that sends a firing (beat): note when, for the per-minute lock."""
    if sender == FIRE_TASK and headers is not None:
        headers.setdefault(SENT_HEADER, time.time())
