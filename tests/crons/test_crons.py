"""cloud.cron against the live server and real workers: register, list, info, manual_run and
deregister; errors; the PeriodicTask and CrontabSchedule made; beat's own due-check; one job per
cron and minute however many beats send the firing."""

from __future__ import annotations

import datetime
import functools
import json
import socket
import time

import pytest
from celery import Celery
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from picloud import cron, keys
from picloud.exceptions import CloudException
from picloud.http import api_client
from tests import jobfuncs as jf
from tests.services import wait_until
from webui.crons.models import Cron
from workers import app
from workers.cron_task import FIRE_TASK, SENT_HEADER, fire, fire_cron

pytestmark = pytest.mark.django_db(transaction=True)


def test_register_list_info_run_and_deregister(user, jobs, fleet):
    hello = functools.partial(jf.print_text, "hello from a cron")
    assert cron.register(hello, "hello", "*/5 * * * *", _type="c2", _label="ignored") is None
    assert cron.list() == ["hello"]
    about = cron.info("hello")
    assert about["label"] == "hello" and about["schedule"] == "*/5 * * * *"
    assert about["last_run"] is None and about["last_jid"] is None
    assert about["creator_host"] == socket.gethostname() and about["core_type"] == "c2"
    assert about["funcname"] == "tests.jobfuncs.print_text (partial)"
    created = datetime.datetime.strptime(about["created"], "%Y-%m-%d %H:%M:%S")
    assert abs(created.replace(tzinfo=datetime.UTC).timestamp() - time.time()) < 60

    task = PeriodicTask.objects.get(cron__label="hello")
    assert (task.task, task.queue, json.loads(task.args)) == (
        "picloud.fire_cron",
        "c2",
        [user.key, "hello"],
    )
    tab = task.crontab
    assert (tab.minute, tab.hour, tab.day_of_month, tab.month_of_year, tab.day_of_week) == (
        "0,5,10,15,20,25,30,35,40,45,50,55",
        "*",
        "*",
        "*",
        "*",
    )
    assert str(tab.timezone) == "UTC"
    assert fleet.hget(keys.cron(user.key, "hello"), "grant")

    jid = cron.manual_run("hello")
    assert jobs.result(jid, timeout=30) == "hello from a cron"
    found = jobs.info(jid, ["stdout", "attributes"])[jid]
    assert found["stdout"].strip() == "hello from a cron"
    assert found["attributes"]["label"] == "hello"  # the runs carry the cron's label
    assert found["attributes"]["core_type"] == "c2"
    about = cron.info("hello")
    assert about["last_jid"] == jid and about["last_run"] is not None
    assert cron.manual_run("hello") == jid + 1  # each run is a job of its own, one jid each
    assert Cron.objects.get(label="hello").last_jid == jid + 1

    assert cron.deregister("hello") is None
    assert cron.list() == []
    assert not PeriodicTask.objects.filter(name__contains="hello").exists()
    assert not fleet.hexists(keys.cron(user.key, "hello"), "func")


def test_a_failing_run_is_an_ordinary_failed_job(user, jobs):
    cron.register(functools.partial(jf.raise_value_error, "cron boom"), "boom", "0 0 * * *")
    jid = cron.manual_run("boom")
    with pytest.raises(CloudException, match="ValueError: cron boom"):
        jobs.result(jid, timeout=30)
    assert cron.info("boom")["last_jid"] == jid


def test_a_duplicate_label_is_refused(user):
    cron.register(functools.partial(jf.square, 2), "twice", "* * * * *")
    with pytest.raises(CloudException, match="a cron labelled 'twice' exists"):
        cron.register(functools.partial(jf.square, 3), "twice", "0 * * * *")
    assert cron.info("twice")["schedule"] == "* * * * *"


@pytest.mark.parametrize("call", ["deregister", "manual_run", "info"])
def test_an_unknown_label_is_a_clear_error(user, call):
    with pytest.raises(CloudException, match="no cron labelled 'nothing-here'"):
        getattr(cron, call)("nothing-here")


def test_bad_schedules_and_functions_are_refused_before_anything_is_sent(user):
    for schedule in ("5 0 * * * *", "61 * * * *", "* * * * x"):
        with pytest.raises(ValueError, match="Invalid cron string"):
            cron.register(jf.identity, "bad", schedule)
    with pytest.raises(ValueError, match="must have 0"):
        cron.register(jf.square, "bad", "* * * * *")
    assert cron.list() == []


def test_the_server_checks_what_it_is_sent_too(user):
    client = api_client()
    base = {"label": "raw", "schedule": "* * * * *", "function": "AA==", "grant": "00"}
    with pytest.raises(CloudException, match="Invalid cron string"):
        client.request("POST", "api/cron/register/", json={**base, "schedule": "1 2 3"})
    with pytest.raises(CloudException, match="is not signed by API key"):
        client.request("POST", "api/cron/register/", json=base)
    leak = {**base, "options": {"_os_env_vars": ["DJANGO_SECRET_KEY"]}}  # the server's own
    with pytest.raises(CloudException, match="_os_env_vars as name: value"):
        client.request("POST", "api/cron/register/", json=leak)
    with pytest.raises(CloudException, match="use POST"):
        client.request("GET", "api/cron/register/")
    assert Cron.objects.count() == 0


def test_sequences_steps_and_weekday_names_are_registered(user):
    cron.register(jf.identity, "noon-sundays", (0, 12, "*", "*", "7"))
    cron.register(jf.identity, "steps", "5/15 */6 * * mon-fri")
    assert cron.info("noon-sundays")["schedule"] == "0 12 * * 7"
    sunday = Cron.objects.get(label="noon-sundays").periodic_task.crontab
    assert (sunday.minute, sunday.hour, sunday.day_of_week) == ("0", "12", "0")
    steps = Cron.objects.get(label="steps").periodic_task.crontab
    assert (steps.minute, steps.hour, steps.day_of_week) == ("5,20,35,50", "0,6,12,18", "1-5")
    assert sorted(cron.list()) == ["noon-sundays", "steps"]


def test_beat_s_own_due_check(user):
    cron.register(jf.identity, "every-minute", "* * * * *")
    cron.register(jf.identity, "new-year", "0 0 1 1 *")
    now = datetime.datetime.now(datetime.UTC)
    every = PeriodicTask.objects.get(cron__label="every-minute")
    due, wait = ModelEntry(every, app=app).is_due()
    assert not due and 0 < wait <= 60  # registered just now: due at the next minute
    every.last_run_at = now - datetime.timedelta(minutes=2)
    assert ModelEntry(every, app=app).is_due()[0]
    yearly = PeriodicTask.objects.get(cron__label="new-year").crontab.schedule
    assert yearly.is_due(now - datetime.timedelta(days=400))[0]
    due, wait = yearly.is_due(now)
    assert not due and wait > 60


def test_two_beats_sending_the_same_minute_make_one_job(user, jobs, fleet, cluster):
    cron.register(functools.partial(jf.square, 7), "once", "* * * * *")
    sent = time.time()

    def beat_sends() -> int:  # a firing as beat sends it; the jid the cron last made
        fire_cron.apply(args=[user.key, "once"], headers={SENT_HEADER: sent}).get()
        return int(fleet.hget(keys.cron(user.key, "once"), "last_jid"))

    first = beat_sends()
    assert beat_sends() == first  # the second beat's firing of that minute made nothing
    assert jobs.result(first, timeout=30) == 49
    assert fire(cluster.url, user.key, "once", int(sent // 60)) is None
    later = fire(cluster.url, user.key, "once", int(sent // 60) + 1)  # the next minute
    assert later is not None and later.jid > first
    assert jobs.result(later.jid, timeout=30) == 49
    assert fire(cluster.url, user.key, "not-registered", 1) is None


def test_a_firing_sent_through_the_broker_is_locked_by_the_minute_it_was_sent(
    user, jobs, fleet, cluster
):
    cron.register(functools.partial(jf.square, 9), "sent", "* * * * *")
    sender = Celery("beat-like", broker=cluster.url, set_as_current=False, fixups=[])
    try:  # a firing stamped as sent at 00:02:05 on 1 January 1970
        sender.send_task(FIRE_TASK, args=[user.key, "sent"], queue="c1", headers={SENT_HEADER: 125})
    finally:
        sender.close()
    wait_until(lambda: fleet.hget(keys.cron(user.key, "sent"), "last_jid"), 30, "the firing")
    assert fleet.exists(keys.cron_firing(user.key, "sent", 2))
    assert jobs.result(int(fleet.hget(keys.cron(user.key, "sent"), "last_jid")), timeout=30) == 81
