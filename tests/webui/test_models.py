"""The ledger's models and migrations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from tests.webui.conftest import ranges
from webui.ledger.events import parse_ranges
from webui.ledger.models import Job, Label


@pytest.mark.django_db
def test_migrations_match_the_models():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_finished_statuses_follow_jobstatus():
    assert sorted(Job.FINISHED) == ["done", "error", "killed", "stalled"]
    assert sorted(Job.FAILED) == ["error", "killed", "stalled"]
    assert Job(jid=1, status="done").is_finished
    assert not Job(jid=2, status="processing").is_finished
    assert str(Job(jid=3, status="queued")) == "job 3 (queued)"


@pytest.mark.django_db
def test_label_is_a_view_of_the_job_table():
    now = datetime.now(UTC)
    Job.objects.create(jid=7, status="done", label="nightly", updated=now)
    assert Label._meta.proxy and Label._meta.db_table == Job._meta.db_table
    assert Label.objects.get(jid=7).label == "nightly"


def test_every_filter_column_leads_an_index():
    leading = {index.fields[0] for index in Job._meta.indexes}
    assert {"status", "label", "pool", "owner", "created", "finished"} <= leading
    assert {"status", "label", "pool", "owner"} <= {
        i.fields[0] for i in Job._meta.indexes if i.fields[1:] == ["jid"]
    }
    assert all(index.name for index in Job._meta.indexes)


@pytest.mark.parametrize(
    "text, jids",
    [
        ("1-5,9,12-14", [1, 2, 3, 4, 5, 9, 12, 13, 14]),
        ("7", [7]),
        ("", []),
        ("3-3", [3]),
    ],
)
def test_parse_ranges(text, jids):
    assert list(parse_ranges(text)) == jids
    assert ranges(jids) == text.replace("3-3", "3")


def test_parse_ranges_rejects_garbage():
    with pytest.raises(ValueError):
        list(parse_ranges("1-x"))
