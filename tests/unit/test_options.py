"""Parsing the reserved ``_keyword`` arguments (picloud/options.py)."""

from __future__ import annotations

import pytest

from picloud.exceptions import CloudException, InvalidOptionError, InvalidOptionTypeError
from picloud.options import (
    DEFAULT_PRIORITY,
    RESERVED,
    JobOptions,
    check_function_arguments,
    parse_options,
    split_kwargs,
)


def callback(jid):
    return jid


def test_reserved_names():
    assert set(RESERVED) == {
        "_callback",
        "_callback_on_error",
        "_cores",
        "_depends_on",
        "_depends_on_errors",
        "_env",
        "_fast_serialization",
        "_high_cpu",
        "_kill_process",
        "_label",
        "_max_runtime",
        "_os_env_vars",
        "_priority",
        "_profile",
        "_restartable",
        "_type",
        "_vol",
    }


def test_defaults():
    options = parse_options({})
    assert options == JobOptions()
    assert options.callback == () and options.callback_on_error == ()
    assert options.depends_on == () and options.depends_on_errors == "abort"
    assert options.priority == DEFAULT_PRIORITY == 5
    assert options.label is None and options.env is None and options.vol == ()
    assert options.type == "c1" and options.cores == 1
    assert options.restartable is True
    wire = options.wire
    assert wire.fast_serialization == 0
    assert wire.profile is False and wire.kill_process is False
    assert wire.max_runtime is None and wire.os_env_vars == ()


def test_split_kwargs():
    reserved, plain = split_kwargs({"_priority": 1, "x": 2, "_label": "a", "y": 3})
    assert reserved == {"_priority": 1, "_label": "a"}
    assert plain == {"x": 2, "y": 3}


GOOD = [
    ("_callback", callback, lambda o: o.callback == (callback,)),
    ("_callback", [callback, print], lambda o: o.callback == (callback, print)),
    ("_callback", None, lambda o: o.callback == ()),
    ("_callback_on_error", (callback,), lambda o: o.callback_on_error == (callback,)),
    ("_cores", 1, lambda o: o.cores == 1),
    ("_depends_on", 3, lambda o: o.depends_on == (3,)),
    ("_depends_on", [1, range(4, 6)], lambda o: o.depends_on == (1, 4, 5)),
    ("_depends_on", range(2, 4), lambda o: o.depends_on == (2, 3)),
    ("_depends_on_errors", "ignore", lambda o: o.depends_on_errors == "ignore"),
    ("_depends_on_errors", "abort", lambda o: o.depends_on_errors == "abort"),
    ("_env", "myenv", lambda o: o.env == "myenv"),
    ("_fast_serialization", 2, lambda o: o.wire.fast_serialization == 2),
    ("_fast_serialization", 1, lambda o: o.wire.fast_serialization == 1),
    ("_high_cpu", True, lambda o: o.type == "c2"),
    ("_kill_process", 1, lambda o: o.wire.kill_process is True),
    ("_label", "ascii label", lambda o: o.label == "ascii label"),
    ("_max_runtime", 3, lambda o: o.wire.max_runtime == 3),
    ("_os_env_vars", {"A": "1"}, lambda o: o.wire.os_env_vars == (("A", "1"),)),
    ("_priority", 1, lambda o: o.priority == 1),
    ("_profile", "yes", lambda o: o.wire.profile is True),
    ("_restartable", False, lambda o: o.restartable is False),
    ("_type", "m1", lambda o: o.type == "m1"),
    ("_type", "s1", lambda o: o.type == "s1"),
    ("_vol", "data", lambda o: o.vol == ("data",)),
    ("_vol", ["a", "b"], lambda o: o.vol == ("a", "b")),
]


@pytest.mark.parametrize(("name", "value", "check"), GOOD, ids=[f"{n}={v!r}" for n, v, _ in GOOD])
def test_good_value(name, value, check):
    assert check(parse_options({name: value}))


def test_os_env_vars_names_read_from_environment(monkeypatch):
    monkeypatch.setenv("PICLOUD_UNIT_VAR", "value")
    options = parse_options({"_os_env_vars": ["PICLOUD_UNIT_VAR"]})
    assert options.wire.os_env_vars == (("PICLOUD_UNIT_VAR", "value"),)


def test_cores_with_type():
    assert parse_options({"_type": "c2", "_cores": 8}).cores == 8
    assert parse_options({"_type": "m1", "_cores": 4}).cores == 4


BAD = [
    ("_callback", 3, CloudException, "callable"),
    ("_callback_on_error", ["x"], CloudException, "callable"),
    ("_cores", 2, InvalidOptionError, "_cores"),
    ("_cores", 0, InvalidOptionError, "_cores"),
    ("_cores", "1", InvalidOptionTypeError, "_cores"),
    ("_cores", 1.0, InvalidOptionTypeError, "_cores"),
    ("_depends_on", "asdf", TypeError, "integers"),
    ("_depends_on", [1, None], TypeError, "integers"),
    ("_depends_on_errors", "continue", InvalidOptionError, "_depends_on_errors"),
    ("_env", ["x"], InvalidOptionTypeError, "_env"),
    ("_fast_serialization", -1, InvalidOptionError, "_fast_serialization"),
    ("_fast_serialization", False, InvalidOptionTypeError, "_fast_serialization"),
    ("_fast_serialization", 1.0, InvalidOptionTypeError, "_fast_serialization"),
    ("_label", b"bytes", InvalidOptionTypeError, "ASCII"),
    ("_label", "\u00fcber", InvalidOptionTypeError, "ASCII"),
    ("_max_runtime", 0, InvalidOptionError, "_max_runtime"),
    ("_max_runtime", True, InvalidOptionTypeError, "_max_runtime"),
    ("_max_runtime", 2.5, InvalidOptionTypeError, "_max_runtime"),
    ("_os_env_vars", "NAME", InvalidOptionTypeError, "_os_env_vars"),
    ("_os_env_vars", {"": "1"}, InvalidOptionError, "_os_env_vars"),
    ("_os_env_vars", {"A": None}, InvalidOptionError, "_os_env_vars"),
    ("_os_env_vars", ["PICLOUD_UNIT_SURELY_UNSET"], InvalidOptionError, "not set"),
    ("_priority", None, InvalidOptionTypeError, "_priority"),
    ("_priority", True, InvalidOptionTypeError, "_priority"),
    ("_restartable", 1, InvalidOptionTypeError, "_restartable"),
    ("_restartable", None, InvalidOptionTypeError, "_restartable"),
    ("_type", "f3", InvalidOptionError, "f3"),
    ("_type", None, InvalidOptionTypeError, "_type"),
    ("_vol", 7, InvalidOptionTypeError, "_vol"),
    ("_vol", {"a": 1}, InvalidOptionTypeError, "_vol"),
]


@pytest.mark.parametrize(
    ("name", "value", "error", "text"), BAD, ids=[f"{n}={v!r}" for n, v, *_ in BAD]
)
def test_bad_value(name, value, error, text):
    with pytest.raises(error) as info:
        parse_options({name: value})
    assert text in str(info.value)


def test_bad_value_error_classes():
    assert issubclass(InvalidOptionError, ValueError)
    assert issubclass(InvalidOptionTypeError, TypeError)
    assert issubclass(InvalidOptionError, CloudException)
    assert issubclass(InvalidOptionTypeError, CloudException)


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("_prority", "_priority"),
        ("_callbak", "_callback"),
        ("_depend_on", "_depends_on"),
        ("_max_run_time", "_max_runtime"),
        ("_lable", "_label"),
    ],
)
def test_unknown_keyword_did_you_mean(typo, meant):
    with pytest.raises(TypeError) as info:
        parse_options({typo: 1})
    message = str(info.value)
    assert typo in message
    assert f"did you mean {meant}?" in message


def test_unknown_keyword_without_close_match():
    with pytest.raises(TypeError) as info:
        parse_options({"_zzzzzzzz": 1})
    assert "_zzzzzzzz" in str(info.value)
    assert "did you mean" not in str(info.value)


def test_attributes():
    options = parse_options(
        {"_env": "e", "_vol": "v", "_type": "c2", "_cores": 2, "_max_runtime": 4, "_label": "l"}
    )
    attributes = options.attributes
    assert attributes["env"] == "e"
    assert attributes["vol"] == ["v"]
    assert attributes["core_type"] == "c2"
    assert attributes["cores"] == 2
    assert attributes["max_runtime"] == 4
    assert attributes["label"] == "l"


def test_check_function_arguments():
    def f(a, b=1, *, c=2):
        return a

    check_function_arguments(f, (1,), {})
    check_function_arguments(f, (1, 2), {"c": 3})
    with pytest.raises(TypeError):
        check_function_arguments(f, (), {})
    with pytest.raises(TypeError):
        check_function_arguments(f, (1, 2, 3), {})
    with pytest.raises(TypeError):
        check_function_arguments(f, (1,), {"d": 1})
    check_function_arguments(print, (1, 2, 3), {"sep": ""})
