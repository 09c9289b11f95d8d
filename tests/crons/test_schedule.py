"""cloud.cron's client-side checks (no services): schedules in PiCloud's syntax turned into
Celery crontab fields, labels, functions that need arguments, and the reserved keywords."""

from __future__ import annotations

import functools

import pytest
from celery.schedules import crontab

import cloud.cron
from picloud import cron
from picloud.exceptions import InvalidOptionError
from tests import jobfuncs as jf

FORMAT = "Invalid cron string. Format: min hour day mon dow"


@pytest.mark.parametrize(
    ("schedule", "fields"),
    [
        ("* * * * *", ("*", "*", "*", "*", "*")),
        ("5/15 * * * *", ("5,20,35,50", "*", "*", "*", "*")),  # N/S: from N on, every S
        ("*/20 0-6/2 1,15 * *", ("0,20,40", "0,2,4,6", "1,15", "*", "*")),
        ("0 9 * jan-mar mon-fri", ("0", "9", "*", "1-3", "1-5")),
        ("0 0 * * 7", ("0", "0", "*", "*", "0")),  # 7 is Sunday
        ("0 0 * * SUN", ("0", "0", "*", "*", "0")),
        ("0 0 * * 5-7", ("0", "0", "*", "*", "0,5-6")),
        ("0 0 * * ?", ("0", "0", "*", "*", "*")),
        ("0 0 * * 0-7", ("0", "0", "*", "*", "*")),
        ("1-5,7,8,9 23 31 12 sat", ("1-5,7-9", "23", "31", "12", "6")),
        ((0, 12, "*", "*", "sun"), ("0", "12", "*", "*", "0")),  # a 5-element sequence
        (["*/30", "*", "*", "*", "*"], ("0,30", "*", "*", "*", "*")),
    ],
)
def test_schedules_become_celery_crontab_fields(schedule, fields):
    parsed = cron.parse_schedule(schedule)
    found = (
        parsed.minute,
        parsed.hour,
        parsed.day_of_month,
        parsed.month_of_year,
        parsed.day_of_week,
    )
    assert found == fields
    names = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    crontab(**dict(zip(names, found)))  # Celery takes them as they are
    if isinstance(schedule, str):
        assert parsed.text == schedule
    else:
        assert parsed.text == " ".join(map(str, schedule))


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ("5 0 * * * *", None),  # six fields (a year): PiCloud's own test expects ValueError
        ("* * * *", None),
        ("", None),
        (("*", "*", "*", "*"), None),
        ("61 * * * *", "61 is outside 0-59"),
        ("* 24 * * *", "24 is outside 0-23"),
        ("* * 0 * *", "0 is outside 1-31"),
        ("* * * 13 *", "13 is outside 1-12"),
        ("* * * * 8", "8 is outside 0-7"),
        ("a * * * *", "'a' is not a number"),
        ("* * * * funday", "'funday' is not a number"),
        ("mon * * * *", "'mon' is not a number"),  # names only where they mean something
        ("*/0 * * * *", "a step must be 1 or more"),
        ("*/x * * * *", "'x' is not a number"),
        ("5-1 * * * *", "the range runs backwards"),
        ("1,,2 * * * *", "'' is not a number"),
        ("-5 * * * *", "'' is not a number"),
    ],
)
def test_bad_schedules_raise_picloud_s_value_error(schedule, why):
    with pytest.raises(ValueError) as caught:
        cron.parse_schedule(schedule)
    assert str(caught.value).startswith(FORMAT)
    if why is None:
        assert str(caught.value) == FORMAT
    else:
        assert why in str(caught.value)


def test_a_schedule_that_is_no_string_or_sequence_is_a_type_error():
    with pytest.raises(TypeError, match="cron string or 5 fields"):
        cron.parse_schedule(5)


def test_functions_must_need_no_arguments():
    with pytest.raises(ValueError, match=r"^cron functions must have 0 \(required\) arguments\. "):
        cron.check_no_arguments(jf.square)
    with pytest.raises(ValueError, match="requires path"):
        cron.check_no_arguments(jf.touch_then_return)
    cron.check_no_arguments(functools.partial(jf.square, 3))
    cron.check_no_arguments(jf.identity)  # *args, **kwargs only
    cron.check_no_arguments(lambda x=1: x)
    with pytest.raises(TypeError, match="not callable"):
        cron.check_no_arguments(42)


@pytest.mark.parametrize("label", ["", "é", "a\nb", "x" * 101])
def test_labels_are_printable_ascii(label):
    with pytest.raises(ValueError, match="cron label"):
        cron.check_label(label)


def test_a_label_must_be_a_string():
    with pytest.raises(TypeError, match="cron label"):
        cron.check_label(7)


def test_reserved_keywords_are_made_explicit_and_round_trip(monkeypatch):
    monkeypatch.setenv("CRON_TEST_VAR", "from the client")
    options = cron.cron_options(
        {"_type": "c2", "_env": "x", "_label": "ignored", "_depends_on": 5,
         "_os_env_vars": ["CRON_TEST_VAR"], "_max_runtime": 3}
    )  # fmt: skip
    assert options["_type"] == "c2" and options["_env"] == "x"
    assert options["_os_env_vars"] == {"CRON_TEST_VAR": "from the client"}
    assert cron.stored_options(cron.parse_options(options)) == options
    assert cron.grant_spec(b"f", options)["queue"] == "c2.x"
    with pytest.raises(InvalidOptionError, match="_callback is not supported"):
        cron.cron_options({"_callback": print})
    with pytest.raises(TypeError, match="take no arguments"):
        cron.cron_options({"x": 1})
    with pytest.raises(InvalidOptionError):
        cron.cron_options({"_type": "z9"})


def test_cloud_cron_is_picloud_s_name_for_it():
    assert cloud.cron.register is cron.register
    assert cloud.cron.list is cron.list_crons
    assert set(cloud.cron.__all__) == {"register", "deregister", "manual_run", "list", "info"}
