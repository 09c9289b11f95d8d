"""jid flattening (picloud/jids.py) and the exception tree (picloud/exceptions.py)."""

from __future__ import annotations

import pickle

import pytest

from picloud.exceptions import (
    CloudException,
    CloudTimeoutError,
    ConfigError,
    DependencyFailed,
    InvalidJidError,
    InvalidOptionError,
    InvalidOptionTypeError,
    JobKilled,
    NoSuchJobError,
    PicklingFailure,
)
from picloud.jids import describe_jids, flatten_jids, is_single


# --- jids -------------------------------------------------------------------------------------
def test_flatten_int():
    assert list(flatten_jids(5)) == [5]


def test_flatten_range_stays_compact():
    jids = flatten_jids(range(3, 1003))
    assert isinstance(jids, range)
    assert jids == range(3, 1003)


def test_flatten_list_mixing_ints_and_ranges():
    assert list(flatten_jids([1, range(3, 5), 7, range(10, 12)])) == [1, 3, 4, 7, 10, 11]


def test_flatten_other_iterables():
    assert list(flatten_jids((4, 5))) == [4, 5]
    assert list(flatten_jids(j for j in (6, 7))) == [6, 7]
    assert list(flatten_jids([])) == []


@pytest.mark.parametrize(
    "bad", ["asdf", b"12", 1.5, None, True, [1, "x"], [1, None], [[1, 2]], object()]
)
def test_flatten_rejects_non_jids(bad):
    with pytest.raises(TypeError, match="must be integers"):
        flatten_jids(bad)


def test_invalid_jid_error_is_type_error_and_cloud_exception():
    with pytest.raises(InvalidJidError) as info:
        flatten_jids("asdf")
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, CloudException)
    assert "jid(s) must be integers" in str(info.value)


def test_is_single():
    assert is_single(3)
    assert not is_single([3])
    assert not is_single(range(3, 4))
    assert not is_single(True)


def test_describe_jids():
    assert describe_jids([1, 2, 3]) == "1, 2, 3"
    assert describe_jids(list(range(15)), limit=3) == "0, 1, 2 and 12 more"


# --- exceptions: str() per compat section 2 ---------------------------------------------------
def test_cloud_exception_str_forms():
    assert str(CloudException("text")) == "text"
    assert str(CloudException("text", jid=5)) == "Job 5: text"
    assert str(CloudException("text", status=455)) == "Error 455: text"
    assert str(CloudException("text", jid=5, status="error")) == "Job 5: text"
    assert str(CloudException("text", jid=5, hint="try again")) == "Job 5: text\nTIP: try again"


def test_cloud_exception_attributes():
    exc = CloudException("text", jid=5, status="error", retry=True, hint="h")
    assert exc.parameter == "text"
    assert exc.jid == 5
    assert exc.status == "error"
    assert exc.retry is True
    assert exc.hint == "h"
    defaults = CloudException("x")
    assert (defaults.jid, defaults.status, defaults.retry, defaults.hint) == (
        None,
        None,
        False,
        None,
    )


def test_cloud_exception_args_do_not_repeat_the_jid():
    """PiCloud's args held the jid twice; picloud does not copy that (compat section 11)."""
    exc = CloudException("text", jid=5, status="error")
    assert list(exc.args).count(5) <= 1


def test_cloud_timeout_error():
    exc = CloudTimeoutError()
    assert str(exc) == "Timed out"
    assert exc.jid is None and exc.status is None
    assert isinstance(exc, CloudException)


def test_cloud_timeout_error_with_jids_shows_them_like_cloud_exception():
    """CloudTimeoutError(value, jid) inherits CloudException.__str__ in PiCloud (section 2)."""
    exc = CloudTimeoutError("cloud.join timed out", [3, 4])
    assert exc.jid == [3, 4]
    assert exc.status is None
    assert str(exc) == "Job [3, 4]: cloud.join timed out"


def test_no_such_job_error():
    exc = NoSuchJobError(12)
    assert exc.jid == 12
    assert str(exc) == "Job 12: Does not exist or was purged from cache"


def test_dependency_failed():
    exc = DependencyFailed("Could not start due to dependency erroring", 7, parent_jid=6)
    assert str(exc) == "Job 7: Could not start due to dependency erroring"
    assert exc.status == "stalled"
    assert exc.parent_jid == 6


def test_default_values_use_the_docstring():
    assert str(JobKilled()) == "Job terminated by user"
    assert str(DependencyFailed()) == "Error stalled: Could not start due to dependency erroring"


def test_hierarchy():
    for cls in (
        CloudTimeoutError,
        NoSuchJobError,
        InvalidJidError,
        InvalidOptionError,
        InvalidOptionTypeError,
        PicklingFailure,
        JobKilled,
        DependencyFailed,
        ConfigError,
    ):
        assert issubclass(cls, CloudException)
    assert issubclass(InvalidJidError, TypeError)
    assert issubclass(InvalidOptionError, ValueError)
    assert issubclass(InvalidOptionTypeError, TypeError)
    assert issubclass(PicklingFailure, pickle.PicklingError)


EXAMPLES = [
    CloudException("Traceback...\nValueError: x", jid=3, status="error"),
    CloudException("server says no", status=455, retry=True),
    CloudException("with hint", jid=1, hint="do this"),
    CloudTimeoutError(),
    CloudTimeoutError("cloud.join timed out", [1, 2]),
    CloudTimeoutError("__iresult iterator timed out", range(3, 5)),
    NoSuchJobError(9),
    InvalidJidError("jid(s) must be integers"),
    InvalidOptionError("bad value"),
    InvalidOptionTypeError("bad type"),
    PicklingFailure("argument 1 -> socket object: cannot pickle", "argument 1"),
    JobKilled("Job terminated by user"),
    DependencyFailed("Could not start", 8, parent_jid=7),
    ConfigError("setting num_procs must be an int"),
]


@pytest.mark.parametrize("exc", EXAMPLES, ids=[type(e).__name__ for e in EXAMPLES])
def test_exceptions_pickle_round_trip(exc):
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert str(copy) == str(exc)
    assert copy.args == exc.args
    assert vars(copy) == vars(exc)
