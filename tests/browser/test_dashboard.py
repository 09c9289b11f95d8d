"""The dashboard in headless Chromium: log in through the admin, see the pools, the chart and
the errors, and watch the numbers change without a reload. Saves test-artifacts/dashboard.png."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

from picloud.broker import redact
from tests.browser.fleetdata import beat, enqueue, job
from tests.services import REPO
from webui.ledger.models import Job

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO / "test-artifacts" / "dashboard.png"
#: Milliseconds to wait for the page to show new data (it polls every 2 s).
UPDATE_MS = 8000
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.timeout(60)

ERRORS = [
    ("etl.parse_row", "nightly-import", "Traceback (most recent call last):\n  ...\n"
     "ValueError: could not convert string to float: 'n/a'", "error"),
    ("render.frame", "film-42", "JobKilled: exceeded _max_runtime (600 s)", "killed"),
    ("report.build", "weekly", "DependencyFailed: job 1180 failed", "stalled"),
    ("ml.train_fold", "cv-5", "Traceback (most recent call last):\n  ...\nMemoryError", "error"),
    ("scrape.fetch", "crawl", "Traceback (most recent call last):\n  ...\n"
     "TimeoutError: https://example.org/feed did not answer in 30 s", "error"),
]  # fmt: skip


@pytest.fixture
def problems() -> list[str]:
    """Errors the page logged to its console or threw."""
    return []


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, problems: list[str]) -> Iterator[Page]:
    """A Chromium page; fails (never skips) when Debian's chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: apt-get install -y chromium (make test does, as root)"
        )
    # Playwright's sync API keeps an event loop running; the ORM calls in between are sync
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOT.parent.mkdir(exist_ok=True)

    def on_console(message: ConsoleMessage) -> None:
        # the admin's login page has no favicon (Chromium asks for /favicon.ico); ours has one
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            problems.append(f"console: {message.text}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", on_console)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            yield page
        finally:
            browser.close()
            # inside sync_playwright the test runs in another contextvars context, so it has a
            # database connection of its own that the test database teardown cannot see
            connections.close_all()


def log_in(page: Page, base_url: str, users: Any) -> None:
    """Open the dashboard as a new superuser, through the admin's login form."""
    users.objects.create_superuser("ops", "ops@example.org", PASSWORD)
    page.goto(f"{base_url}/dashboard/")
    expect(page).to_have_url(f"{base_url}/admin/login/?next=/dashboard/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(f"{base_url}/dashboard/")


def fill_fleet(client: redis.Redis) -> None:
    """Pools with workers and queued messages, and an hour of jobs, some failed."""
    for queue, node in [("c1", "c1@web-1"), ("c1", "c1@web-2"), ("c2", "c2@gpu-1")]:
        beat(client, queue, node, age=1)
    beat(client, "c2.myenv", "c2@gpu-1", age=1)
    beat(client, "m1", "m1@bigmem-1", age=3)
    beat(client, "s1", "s1@old-1", age=240)
    enqueue(client, "c1", 30)
    enqueue(client, "c1", 12, priority=7)
    enqueue(client, "c2", 3)
    enqueue(client, "s1", 5)
    now = timezone.now()
    this_minute = now.replace(second=0, microsecond=0)
    rows, jid = [], 1000
    for minute in range(60):
        for n in range(int(14 + 10 * math.sin(minute / 6) + minute / 5)):
            jid += 1
            done = (
                this_minute - timedelta(minutes=minute) + timedelta(seconds=n % 60 if minute else 0)
            )
            created = done - timedelta(seconds=3)
            rows.append(
                Job(jid=jid, status="done", pool="c1", created=created, finished=done, updated=now)
            )
    for status, count in [("processing", 6), ("queued", 42), ("waiting", 3)]:
        for _ in range(count):
            jid += 1
            rows.append(Job(jid=jid, status=status, pool="c1", created=now, updated=now))
    Job.objects.bulk_create(rows)
    for i in range(12):
        function, label, error, status = ERRORS[i % len(ERRORS)]
        job(jid + 1 + i, status, ago=600 - 45 * i, function=function, label=label, error=error)


def cell(page: Page, queue: str, column: str):
    return page.locator(f'#dash-pools tr[data-queue="{queue}"] td.{column}')


def test_dashboard_shows_the_fleet_and_follows_it(
    page: Page, problems: list[str], live_server: Any, broker: redis.Redis, django_user_model: Any
) -> None:
    fill_fleet(broker)
    try:
        log_in(page, live_server.url, django_user_model)
        done_before = check_first_view(page)

        page.evaluate("window.notReloaded = true")
        enqueue(broker, "c1", 5, priority=3)
        job(99_999, "done", ago=0)
        expect(cell(page, "c1", "depth")).to_have_text("47", timeout=UPDATE_MS)
        done = page.locator('#dash-statuses tr[data-status="done"] td')
        expect(done).to_have_text(f"{done_before + 1:,}", timeout=UPDATE_MS)
        expect(page.locator("#dash-updated")).to_contain_text("updated ")
        assert page.evaluate("window.notReloaded") is True
    finally:
        page.screenshot(path=SCREENSHOT, full_page=True)
    assert problems == []


def test_dashboard_says_when_the_broker_is_unreachable(
    page: Page,
    problems: list[str],
    live_server: Any,
    unreachable_broker: str,
    django_user_model: Any,
) -> None:
    job(1, "error", ago=5, function="etl.parse_row", error="ValueError: bad row")
    try:
        log_in(page, live_server.url, django_user_model)
        banner = page.locator("#dash-broker-error")
        expect(banner).to_be_visible()
        expect(banner).to_have_text(f"broker unreachable: {redact(unreachable_broker)}")
        expect(cell(page, "c1", "depth")).to_have_text("—")
        expect(page.locator("#dash-errors tbody tr")).to_have_count(1)
        updated = page.locator("#dash-updated")
        expect(updated).not_to_have_text(updated.text_content() or "", timeout=UPDATE_MS)
        expect(banner).to_be_visible()  # and still the page, refreshed
    finally:
        page.screenshot(path=SCREENSHOT.with_name("dashboard-unreachable.png"), full_page=True)
    assert problems == []


def check_first_view(page: Page) -> int:
    """Check what the page shows first; return the number of done jobs it shows."""
    rows = page.locator("#dash-pools tbody tr")
    expect(rows).to_have_count(5)  # drawn by the script
    queues = rows.evaluate_all("rows => rows.map(row => row.dataset.queue)")
    assert queues == ["c1", "c2", "c2.myenv", "m1", "s1"]
    expect(cell(page, "c1", "depth")).to_have_text("42")
    expect(cell(page, "c1", "workers")).to_have_text("2")
    expect(cell(page, "s1", "workers")).to_have_text("0")
    expect(cell(page, "s1", "heartbeat")).to_have_text("4 min ago")
    expect(page.locator("#dash-broker-error")).to_be_hidden()

    done_before = Job.objects.filter(status="done").count()
    expect(page.locator('#dash-statuses tr[data-status="done"] td')).to_have_text(
        f"{done_before:,}"
    )
    chart = page.locator("#dash-chart svg")
    bars = chart.locator("rect.bar").evaluate_all("bars => bars.map(b => b.height.baseVal.value)")
    assert len(bars) >= 58 and max(bars) > 2 * min(bars) > 0  # one per minute (a minute may turn)
    labels = chart.locator("text").all_text_contents()
    assert "jobs / minute" in labels and len([t for t in labels if ":" in t]) == 7

    errors = page.locator("#dash-errors tbody tr")
    expect(errors).to_have_count(10)
    newest = errors.first
    jid = int(newest.get_attribute("data-jid"))
    link = newest.locator("a")
    expect(link).to_have_text(f"#{jid}")
    expect(link).to_have_attribute("href", reverse("admin:ledger_job_change", args=[jid]))
    expect(newest.locator("td.error-text")).to_have_text("JobKilled: exceeded _max_runtime (600 s)")
    return done_before
