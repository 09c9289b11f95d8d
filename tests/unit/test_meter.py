"""accounting.Meter on its own: a job shorter than QUICK_JOB costs no syscalls."""

from __future__ import annotations

import time

from picloud.accounting import QUICK_JOB, Meter, Usage


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_quick_job_reports_the_last_peak_and_its_cpu_goes_to_the_next_job():
    meter = Meter()
    meter.start()
    _spin(0.1)
    first = meter.stop(0.1)
    assert first.max_rss > 0 and first.user + first.system >= 0.05
    meter.start(follows=True)
    _spin(0.05)  # longer than it says: the next job measured is charged with it
    assert meter.stop(QUICK_JOB / 2) == Usage(first.max_rss, 0.0, 0.0)
    meter.start(follows=True)
    third = meter.stop(QUICK_JOB * 2)
    assert third.user + third.system >= 0.03


def test_a_job_that_does_not_follow_is_measured_from_its_own_start():
    meter = Meter()
    meter.start()
    _spin(0.05)
    meter.stop(QUICK_JOB / 2)  # the first job of a meter is measured all the same
    meter.start()
    last = meter.stop(QUICK_JOB * 2)
    assert last.user + last.system < 0.03
