"""Crons in the admin: listed with their schedule and last run, each with its beat entry and
its run history (the jobs it made, as the recorder put them in the ledger); "run now" makes a
job; deleting one there deregisters it."""

from __future__ import annotations

import functools
import uuid

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from picloud import cron, keys
from tests import jobfuncs as jf
from webui.crons.models import Cron
from webui.ledger.recorder import Recorder

pytestmark = pytest.mark.django_db(transaction=True)

CRONS = reverse("admin:crons_cron_changelist")


@pytest.fixture
def record(fleet):
    """Drain the ledger events from now on into Job rows (a group of this test's own)."""
    group = f"test-{uuid.uuid4().hex}"
    fleet.xgroup_create(keys.EVENTS, group, id="$", mkstream=True)
    recorder = Recorder(fleet, group=group, consumer="crons")
    recorder.start()
    yield recorder.drain
    fleet.xgroup_destroy(keys.EVENTS, group)


def test_crons_show_their_beat_entry_and_run_history(admin_client, user, jobs, record):
    cron.register(functools.partial(jf.square, 6), "nightly", "30 2 * * *", _type="m1")
    first, second = cron.manual_run("nightly"), cron.manual_run("nightly")
    assert jobs.result([first, second], timeout=30) == [36, 36]
    record()

    page = admin_client.get(CRONS).content.decode()
    assert "nightly" in page and "30 2 * * *" in page and "m1" in page
    assert reverse("admin:ledger_job_change", args=[second]) in page  # its last job

    found = Cron.objects.get(label="nightly")
    assert found.last_jid == second and found.last_run is not None
    detail = admin_client.get(reverse("admin:crons_cron_change", args=[found.pk]))
    text = detail.content.decode()
    for jid in (first, second):
        assert reverse("admin:ledger_job_change", args=[jid]) in text
    assert "done" in text and "all runs" in text
    entry = reverse("admin:django_celery_beat_periodictask_change", args=[found.periodic_task_id])
    assert entry in text

    beat_page = admin_client.get(reverse("admin:django_celery_beat_periodictask_changelist"))
    assert found.periodic_task.name in beat_page.content.decode()


def test_run_now_and_delete_in_the_admin(admin_client, user, jobs, fleet):
    cron.register(functools.partial(jf.square, 5), "by-hand", "* * * * *")
    found = Cron.objects.get(label="by-hand")
    data = {"action": "run_now", "_selected_action": [str(found.pk)]}
    response = admin_client.post(CRONS, data, follow=True)
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(notes) == 1 and notes[0].startswith("cron 'by-hand': job ")
    jid = int(notes[0].rsplit(" ", 1)[1])
    assert jobs.result(jid, timeout=30) == 25

    assert admin_client.get(reverse("admin:crons_cron_add")).status_code == 403
    delete = reverse("admin:crons_cron_delete", args=[found.pk])
    admin_client.post(delete, {"post": "yes"}, follow=True)
    assert cron.list() == []
    assert not PeriodicTask.objects.filter(pk=found.periodic_task_id).exists()
    assert not fleet.hexists(keys.cron(user.key, "by-hand"), "func")


def test_deleting_the_beat_entry_deregisters_the_cron(user, fleet):
    cron.register(jf.identity, "via-beat", "* * * * *")
    Cron.objects.get(label="via-beat").periodic_task.delete()
    assert cron.list() == []
    assert not fleet.hexists(keys.cron(user.key, "via-beat"), "func")
