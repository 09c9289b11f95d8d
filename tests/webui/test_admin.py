"""The admin's job list, filters, search, job page, actions and labels page, as a logged-in
superuser, with jobs in a real Redis acted on through the real engine scripts."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils.http import urlencode

from picloud import keys
from webui.ledger.admin import ERROR_CHARS, label_counts
from webui.ledger.models import Job

pytestmark = pytest.mark.django_db

JOBS = reverse("admin:ledger_job_changelist")
LABELS = reverse("admin:ledger_label_changelist")
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/work/job.py", line 3, in work\n'
    "    raise ValueError('the input was wrong')\n"
    "ValueError: the input was wrong\n"
)


def _page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _listed(client, query: str = "") -> list[int]:
    """The jids the job list shows, in order."""
    text = _page(client.get(f"{JOBS}{query}"))
    return [int(j) for j in re.findall(r'<th class="field-jid"><a href="[^"]*">(\d+)</a>', text)]


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _act(client, action: str, jids) -> list[str]:
    data = {"action": action, "_selected_action": [str(j) for j in jids]}
    response = client.post(JOBS, data, follow=True)
    assert response.status_code == 200
    return _messages(response)


@pytest.fixture
def jobs(fake, record):
    """A small varied ledger: jids 1-3 done (label a, c1, ann), 4-5 error (label b, c2, bob),
    6 queued (no label, m1, ann), 7 processing (label a, s1, bob), 8 a week old (c1)."""
    fake.run(3, "done", label="a", queue="c1", owner="ann", function="mod.alpha")
    fake.run(2, "error", TRACEBACK, label="b", queue="c2", owner="bob", function="mod.beta")
    fake.submit(queue="m1", owner="ann", function="mod.gamma")
    fake.start(fake.submit(label="a", queue="s1", owner="bob", function="mod.alpha"))
    week_ago = (datetime.now(UTC) - timedelta(days=7)).timestamp()
    fake.run(1, "done", queue="c1", owner="ann", function="mod.delta", created=week_ago)
    record()
    return fake


def test_the_list_shows_every_column_newest_first(admin_client, jobs):
    text = _page(admin_client.get(JOBS))
    assert _listed(admin_client) == [8, 7, 6, 5, 4, 3, 2, 1]
    for column in ("jid", "status", "label", "pool", "priority", "owner", "function", "created"):
        assert f"column-{column}" in text
    for column in ("started", "finished", "runtime", "attempts", "worker", "short_error"):
        assert f"column-{column}" in text
    assert "ValueError: the input was wrong" in text  # the error's last line
    assert "Traceback (most recent call last)" not in text
    assert "c1-1@testhost/4242" in text


def test_long_errors_are_shortened(admin_client, fake, record):
    fake.run(1, "error", "RuntimeError: " + "x" * 500)
    record()
    cell = re.search(r'<td class="field-short_error">([^<]*)</td>', _page(admin_client.get(JOBS)))
    assert len(html.unescape(cell.group(1))) == ERROR_CHARS and cell.group(1).endswith("…")


@pytest.mark.parametrize(
    "query, expected",
    [
        ("?status__exact=error", [5, 4]),
        ("?status__exact=processing", [7]),
        ("?pool=c1", [8, 3, 2, 1]),
        ("?pool=m1", [6]),
        ("?label=a", [7, 3, 2, 1]),
        ("?label=", [8, 6]),
        ("?owner=bob", [7, 5, 4]),
        ("?owner=ann&status__exact=done", [8, 3, 2, 1]),
    ],
)
def test_filters(admin_client, jobs, query, expected):
    assert _listed(admin_client, query) == expected


def test_the_date_filter(admin_client, jobs):
    text = _page(admin_client.get(JOBS))
    today = re.search(r'href="(\?created__gte=[^"]+)"[^>]*>Today<', text).group(1)
    assert _listed(admin_client, html.unescape(today)) == [7, 6, 5, 4, 3, 2, 1]
    since = datetime.now(UTC) - timedelta(days=1)
    assert _listed(admin_client, "?" + urlencode({"created__lt": since.isoformat()})) == [8]


def test_filters_list_each_value_once(admin_client, jobs):
    text = _page(admin_client.get(JOBS))
    for value in ("c1", "c2", "m1", "s1", "ann", "bob", "a", "b", "(none)"):
        assert len(re.findall(rf">\s*{re.escape(value)}\s*</a>", text)) == 1, value


@pytest.mark.parametrize(
    "term, expected",
    [
        ("5", [5]),
        ("1", [1]),
        ("mod.beta", [5, 4]),
        ("gamma", [6]),
        ("b", [5, 4]),
        ("9" * 30, []),
    ],
)
def test_search_by_jid_label_or_function(admin_client, jobs, term, expected):
    assert _listed(admin_client, f"?q={term}") == expected


def test_the_job_page_shows_output_and_traceback_from_redis(admin_client, jobs):
    jobs.output(4, stdout="reading input.csv\n", stderr="warning: <odd> row\n")
    text = _page(admin_client.get(reverse("admin:ledger_job_change", args=[4])))
    assert "reading input.csv" in text
    assert "warning: &lt;odd&gt; row" in text  # escaped
    assert html.escape(TRACEBACK.strip(), quote=False).splitlines()[-1] in text
    assert "mod.beta" in text and "c2" in text
    assert 'name="_save"' not in text  # read-only


def test_the_job_page_shows_what_the_job_used(admin_client, jobs, broker):
    broker.hset(keys.job(4), "used", "41800000 0.21 0.02 0")
    text = _page(admin_client.get(reverse("admin:ledger_job_change", args=[4])))
    assert "peak memory 41.8 MB; CPU 0.21 s user, 0.02 s system" in text


def test_the_job_page_says_when_there_is_no_output(admin_client, jobs):
    text = _page(admin_client.get(reverse("admin:ledger_job_change", args=[1])))
    assert "nothing was written to stdout" in text
    assert "nothing was written to stderr" in text
    assert "no exception" in text


def test_the_job_page_says_when_redis_has_nothing(admin_client, jobs):
    jobs.forget([2])
    text = _page(admin_client.get(reverse("admin:ledger_job_change", args=[2])))
    assert "Redis has nothing for job 2 any more" in text


def test_the_job_page_says_when_the_broker_is_unreachable(admin_client, jobs, unreachable_broker):
    text = _page(admin_client.get(reverse("admin:ledger_job_change", args=[2])))
    assert "cannot reach the broker" in text


def test_jobs_cannot_be_added_edited_or_deleted_by_hand(admin_client, jobs):
    page = reverse("admin:ledger_job_change", args=[1])
    assert admin_client.post(page, {"status": "killed"}).status_code == 403
    assert admin_client.get(reverse("admin:ledger_job_add")).status_code == 403
    assert admin_client.get(reverse("admin:ledger_job_delete", args=[1])).status_code == 403
    assert Job.objects.get(jid=1).status == "done"


def test_the_actions_offered(admin_client, jobs):
    text = _page(admin_client.get(JOBS))
    offered = re.findall(r'<option value="(\w+)"', text)
    assert {"kill_jobs", "delete_jobs", "rerun_jobs"} <= set(offered)
    assert "delete_selected" not in offered


def test_kill(admin_client, jobs, broker):
    said = _act(admin_client, "kill_jobs", [6, 7, 1])
    assert said == ["killed 2 jobs (1 had finished already)"]
    assert broker.hget(keys.job(6), "status") == b"killed"
    assert broker.hget(keys.job(7), "status") == b"killed"
    assert broker.hget(keys.job(1), "status") == b"done"
    # the rows follow at once (the recorder would bring the same)
    assert dict(Job.objects.filter(jid__in=[1, 6, 7]).values_list("jid", "status")) == {
        1: "done",
        6: "killed",
        7: "killed",
    }


def test_delete(admin_client, jobs, broker):
    assert _act(admin_client, "delete_jobs", [1, 4]) == ["deleted 2 jobs"]
    assert not broker.exists(keys.job(1), keys.job(4))
    assert not Job.objects.filter(jid__in=[1, 4]).exists()
    assert Job.objects.count() == 6


def test_delete_kills_unfinished_jobs_first(admin_client, jobs, broker):
    assert _act(admin_client, "delete_jobs", [1, 6, 7]) == ["deleted 3 jobs"]
    assert not broker.exists(keys.job(1), keys.job(6), keys.job(7))
    assert not Job.objects.filter(jid__in=[1, 6, 7]).exists()


def test_delete_removes_rows_redis_has_forgotten(admin_client, jobs, broker):
    jobs.forget([2])
    assert _act(admin_client, "delete_jobs", [2, 3]) == ["deleted 2 jobs (1 only in the ledger)"]
    assert not Job.objects.filter(jid__in=[2, 3]).exists()


def test_rerun(admin_client, jobs, broker):
    assert _act(admin_client, "rerun_jobs", [4, 5]) == ["queued 2 jobs to run again"]
    assert broker.hmget(keys.job(4), "status", "exception") == [b"queued", None]
    assert set(Job.objects.filter(jid__in=[4, 5]).values_list("status", "error")) == {
        ("queued", "")
    }


def test_rerun_refuses_unfinished_jobs(admin_client, jobs, broker):
    said = _act(admin_client, "rerun_jobs", [1, 7])
    assert len(said) == 1 and "cannot re-run unfinished jobs (7)" in said[0]
    assert broker.hget(keys.job(1), "status") == b"done"


def test_actions_say_when_the_broker_is_unreachable(admin_client, jobs, unreachable_broker):
    said = _act(admin_client, "kill_jobs", [6])
    assert len(said) == 1 and "cannot reach the broker" in said[0]


def test_the_labels_page_counts_jobs_per_status(admin_client, jobs):
    text = _page(admin_client.get(LABELS))
    rows = {
        html.unescape(re.search(r"<a[^>]*>([^<]*)</a>", row).group(1)): re.findall(
            r"<td[^>]*>(?:<a[^>]*>)?(\d+)", row
        )
        for row in re.findall(r'<tr class="label-row">(.*?)</tr>', text, re.S)
    }
    # columns: total, then waiting queued processing done error killed stalled
    assert rows == {
        "(none)": ["2", "0", "1", "0", "1", "0", "0", "0"],
        "a": ["4", "0", "0", "1", "3", "0", "0", "0"],
        "b": ["2", "0", "0", "0", "0", "2", "0", "0"],
    }


def test_the_labels_page_is_one_query(jobs, django_assert_num_queries):
    with django_assert_num_queries(1):
        label_counts()


def test_the_labels_page_links_to_each_labels_jobs(admin_client, jobs):
    text = html.unescape(_page(admin_client.get(LABELS)))
    links = re.findall(r'href="(/admin/ledger/job/\?[^"]+)"', text)
    assert f"{JOBS}?label=a" in links and f"{JOBS}?label=" in links
    assert f"{JOBS}?label=b&status__exact=error" in links
    assert _listed(admin_client, "?label=b&status__exact=error") == [5, 4]
    assert _listed(admin_client, "?label=") == [8, 6]


def test_the_labels_page_when_there_are_no_jobs(admin_client, broker):
    assert "No jobs recorded yet." in _page(admin_client.get(LABELS))
