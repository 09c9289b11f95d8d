"""Every change to crons goes through here: register (a Cron, its CrontabSchedule and
PeriodicTask, and the workers' Redis view), deregister, run now, and the reads of cloud.cron.
Errors are ApiErrors naming what was wrong, for the HTTP API and the admin alike."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from picloud import broker, signing
from picloud import cron as client_side
from picloud.exceptions import CloudException
from webui.api.responses import ApiError
from webui.apikeys.models import ApiKey
from webui.crons import mirror
from webui.crons.models import Cron
from workers.cron_task import FIRE_TASK, Fired, fire

#: Seconds a firing may wait in its queue (for a worker of its pool) before it is dropped.
FIRING_EXPIRES = 600
#: How info() and the admin show times (UTC), as PiCloud did.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def task_name(api_key: str, label: str) -> str:
    """The PeriodicTask name of a cron (unique, as the key's labels are)."""
    return f"cron {label} (API key {api_key})"


def _checked(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a register request, checked as the client checks them."""
    options = data.get("options") or {}
    if not isinstance(options, dict) or not isinstance(options.get("_os_env_vars", {}), dict):
        # names in _os_env_vars would be looked up in the server's environment
        raise ApiError(400, "options must be an object, with _os_env_vars as name: value")
    try:
        label = client_side.check_label(data.get("label"))
        schedule = client_side.parse_schedule(data.get("schedule"))
        options = client_side.cron_options(options)
        blob = base64.b64decode(str(data.get("function") or ""), validate=True)
    except (TypeError, ValueError, binascii.Error) as exc:
        raise ApiError(400, str(exc)) from None
    if not blob:
        raise ApiError(400, "the request carries no pickled function")
    return {
        "label": label,
        "schedule": schedule,
        "options": options,
        "function": blob,
        "spec": client_side.grant_spec(blob, options),
        "grant": str(data.get("grant") or ""),
        "funcname": str(data.get("funcname") or "")[:255],
        "creator_host": str(data.get("creator_host") or "")[:255],
    }


def register(api_key: ApiKey, data: dict[str, Any]) -> Cron:
    """Register a cron for ``api_key`` from a cloud.cron.register request."""
    found = _checked(data)
    label, spec = found["label"], found["spec"]
    text = signing.grant_text(api_key.key, label, spec)
    if not signing.verify(api_key.public_key, found["grant"], text):
        raise ApiError(
            400, f"the grant of cron {label!r} is not signed by API key {api_key.key}'s secret"
        )
    try:
        with transaction.atomic(), mirror.connection() as client:
            if Cron.objects.filter(owner=api_key, label=label).exists():
                raise ApiError(409, f"a cron labelled {label!r} exists; deregister it first")
            cron = Cron.objects.create(
                owner=api_key,
                label=label,
                schedule=found["schedule"].text,
                periodic_task=_periodic_task(api_key.key, label, found, spec["queue"]),
                funcname=found["funcname"],
                func_digest=spec["func"],
                function=found["function"],
                options=found["options"],
                grant=found["grant"],
                creator_host=found["creator_host"],
            )
            mirror.publish(client, cron)
    except IntegrityError:  # the same label registered at the same moment
        raise ApiError(409, f"a cron labelled {label!r} exists; deregister it first") from None
    except CloudException as exc:
        raise ApiError(503, f"cron {label!r} not registered: {exc}") from None
    return cron


def _periodic_task(api_key: str, label: str, found: dict[str, Any], queue: str) -> PeriodicTask:
    schedule = found["schedule"]
    fields = {
        "minute": schedule.minute,
        "hour": schedule.hour,
        "day_of_month": schedule.day_of_month,
        "month_of_year": schedule.month_of_year,
        "day_of_week": schedule.day_of_week,
        "timezone": "UTC",
    }
    crontab = CrontabSchedule.objects.filter(**fields).first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(**fields)
    name = task_name(api_key, label)
    PeriodicTask.objects.filter(name=name, cron__isnull=True).delete()  # a cron's leftover
    return PeriodicTask.objects.create(
        name=name,
        task=FIRE_TASK,
        args=json.dumps([api_key, label]),
        crontab=crontab,
        queue=queue,
        expire_seconds=FIRING_EXPIRES,
        description=f"cloud.cron {label!r} of API key {api_key}: runs {found['funcname']}",
    )


def get(api_key: ApiKey, label: Any) -> Cron:
    """The key's cron ``label``; ApiError 404 if there is none."""
    try:
        label = client_side.check_label(label)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc)) from None
    cron = Cron.objects.filter(owner=api_key, label=label).select_related("owner").first()
    if cron is None:
        raise ApiError(404, f"no cron labelled {label!r} (cloud.cron.list() names them)")
    return cron


def deregister(cron: Cron) -> None:
    """Delete ``cron``: its Redis view (its queued runs then fail), its PeriodicTask
    (signals.py) and the row."""
    try:
        with transaction.atomic(), mirror.connection() as client:
            mirror.withdraw(client, cron.owner.key, cron.label)
            cron.delete()
            PeriodicTasks.update_changed()
    except CloudException as exc:
        raise ApiError(503, f"cron {cron.label!r} not deregistered: {exc}") from None


def run_now(cron: Cron) -> Fired:
    """Submit a run of ``cron`` now (cloud.cron.manual_run, the admin's "run now")."""
    try:
        fired = fire(broker.broker_url(), cron.owner.key, cron.label)
    except CloudException as exc:
        raise ApiError(503, f"cron {cron.label!r} not run: {exc}") from None
    if fired is None:
        raise ApiError(
            409,
            f"cron {cron.label!r} was not run: its API key is deactivated, or the broker lost "
            "it (webui.crons.mirror.publish_all() restores the crons)",
        )
    refresh_runs([cron])
    return fired


def labels(api_key: ApiKey) -> list[str]:
    return list(
        Cron.objects.filter(owner=api_key).order_by("label").values_list("label", flat=True)
    )


def refresh_runs(crons: Iterable[Cron]) -> None:
    """Copy each cron's last run from Redis (where firings record it) to its row."""
    crons = list(crons)
    changed = []
    found = mirror.runs(crons)
    for cron in crons:
        run = found.get(cron.pk)
        if run is not None and (cron.last_run, cron.last_jid) != run:
            cron.last_run, cron.last_jid = run
            changed.append(cron)
    if changed:
        Cron.objects.bulk_update(changed, ["last_run", "last_jid"])


def _time(moment: Any) -> str | None:
    return moment.strftime(TIME_FORMAT) if moment is not None else None


def info(cron: Cron) -> dict[str, Any]:
    """cloud.cron.info's answer (times as UTC strings, as PiCloud gave them)."""
    refresh_runs([cron])
    return {
        "label": cron.label,
        "schedule": cron.schedule,
        "last_run": _time(cron.last_run),
        "last_jid": cron.last_jid,
        "created": _time(cron.created),
        "creator_host": cron.creator_host,
        "funcname": cron.funcname,
        "func_name": cron.funcname,
        "core_type": cron.options.get("_type", "c1"),
    }
