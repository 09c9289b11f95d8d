"""Real jobs on the session's Celery workers, recorded by the recorder and handled in the
admin: output and tracebacks on the job page, kill and re-run through the engine."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from picloud import keys
from picloud.client import Cloud
from picloud.exceptions import CloudException
from tests import jobfuncs as jf
from tests.services import TEST_API_KEY, keyed_engine
from webui.ledger.models import Job
from webui.ledger.recorder import Recorder

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

JOBS = reverse("admin:ledger_job_changelist")


@pytest.fixture
def cloud(cluster) -> Iterator[Cloud]:
    made = Cloud(keyed_engine(cluster.url), lambda: "cluster")
    yield made
    made.close()


@pytest.fixture
def record(fleet):
    """Drain the fleet's ledger into rows, with a group of this test's own (the broker is
    shared by the whole session, so it reads every job the session ran; that is fine)."""
    recorder = Recorder(fleet, group=f"test-{uuid.uuid4().hex}", consumer="e2e")
    recorder.start()
    yield recorder.drain
    fleet.xgroup_destroy(keys.EVENTS, recorder.group)


def _act(client, action: str, jids) -> list[str]:
    data = {"action": action, "_selected_action": [str(j) for j in jids]}
    response = client.post(JOBS, data, follow=True)
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_real_jobs_are_recorded_and_shown(admin_client, cloud, record):
    label = f"e2e-{uuid.uuid4().hex[:8]}"
    ok = cloud.call(jf.print_text, "hello from the job", "a warning", _label=label)
    bad = cloud.call(jf.raise_value_error, "the real boom", _label=label, _type="c2")
    assert cloud.result(ok, timeout=30) == "hello from the job"
    with pytest.raises(CloudException):
        cloud.result(bad, timeout=30)
    record()
    done, failed = Job.objects.get(jid=ok), Job.objects.get(jid=bad)
    assert (done.status, done.pool, done.label, done.owner) == ("done", "c1", label, TEST_API_KEY)
    assert done.function.endswith("print_text") and done.worker.startswith("c1-")
    assert done.attempts == 1 and done.runtime is not None and done.finished
    assert (failed.status, failed.pool) == ("error", "c2")
    assert "ValueError: the real boom" in failed.error

    page = admin_client.get(reverse("admin:ledger_job_change", args=[ok])).content.decode()
    assert "hello from the job" in page and "a warning" in page
    page = admin_client.get(reverse("admin:ledger_job_change", args=[bad])).content.decode()
    assert "Traceback" in page and "ValueError: the real boom" in page

    labels = admin_client.get(reverse("admin:ledger_label_changelist")).content.decode()
    row = re.search(rf"<a[^>]*>{label}</a>(.*?)</tr>", labels, re.S)
    counts = re.findall(r"<td[^>]*>(?:<a[^>]*>)?(\d+)", row.group(1))
    assert counts == ["2", "0", "0", "0", "1", "1", "0", "0"]


def test_kill_and_rerun_real_jobs(admin_client, cloud, record, fleet, tmp_path):
    gate = jf.Gate(os.fspath(tmp_path / "gate"))
    try:
        blocked = cloud.call(jf.wait_for_file, gate.path, "never")
        jf.wait_status(cloud, blocked, "processing", timeout=30)
        record()
        assert _act(admin_client, "kill_jobs", [blocked]) == ["killed 1 job"]
        assert cloud.status(blocked) == "killed"
        assert Job.objects.get(jid=blocked).status == "killed"
    finally:
        gate.open()

    jid = cloud.call(jf.square, 7, _type="c2")  # c1 is replacing the killed process
    assert cloud.result(jid, timeout=30) == 49
    first_start = fleet.hget(keys.job(jid), "started")
    record()
    assert _act(admin_client, "rerun_jobs", [jid]) == ["queued 1 job to run again"]

    def ran_again() -> bool:
        status, started = fleet.hmget(keys.job(jid), "status", "started")
        return status == b"done" and started not in (None, first_start)

    jf.wait_for(ran_again, 30, f"job {jid} to run again")
    assert cloud.result(jid, timeout=30) == 49
    record()
    assert Job.objects.get(jid=jid).status == "done"
    assert Job.objects.get(jid=jid).started.timestamp() != float(first_start)


def test_cloud_delete_removes_the_row(cloud, record):
    jid = cloud.call(jf.square, 3, _type="m1")
    assert cloud.result(jid, timeout=30) == 9
    record()
    assert Job.objects.filter(jid=jid, status="done").exists()
    cloud.delete(jid)  # the delete script writes a 'deleted' ledger event
    record()
    assert not Job.objects.filter(jid=jid).exists()
