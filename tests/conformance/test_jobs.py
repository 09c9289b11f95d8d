"""call, map, result, join, status, iresult and info: the everyday API."""

from __future__ import annotations

import datetime
import sys
import time
from collections.abc import Sequence

import pytest

import picloud
from picloud.exceptions import CloudException, CloudTimeoutError
from tests import jobfuncs as jf
from tests.jobfuncs import wait_for, wait_status


# --- call -------------------------------------------------------------------------------------
def test_call_returns_int_jid_and_result(cloud):
    jid = cloud.call(jf.square, 7)
    assert isinstance(jid, int) and not isinstance(jid, bool)
    assert cloud.result(jid) == 49


def test_call_lambda_and_closure(cloud):
    assert cloud.result(cloud.call(lambda: 3 * 3)) == 9
    factor = 5

    def times_factor(x):
        return x * factor

    assert cloud.result(cloud.call(times_factor, 4)) == 20


def test_call_builtin(cloud):
    assert cloud.result(cloud.call(pow, 2, 10)) == 1024


def test_plain_keyword_arguments_go_to_the_function(cloud):
    jid = cloud.call(jf.identity, 1, 2, key="v", other=[3])
    assert cloud.result(jid) == ((1, 2), {"key": "v", "other": [3]})
    assert cloud.result(cloud.call(jf.add, 1, b=2)) == 3


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((1, 2), {}), ((), {"y": 1}), ((1,), {"x": 2})],
    ids=["missing", "too-many", "unknown-kw", "duplicate"],
)
def test_call_with_arguments_the_function_cannot_take(cloud, args, kwargs):
    before = cloud.call(jf.square, 1)
    with pytest.raises(TypeError):
        cloud.call(jf.square, *args, **kwargs)
    assert cloud.call(jf.square, 2) == before + 1  # nothing was queued


def test_call_not_callable(cloud):
    with pytest.raises(TypeError, match="not callable"):
        cloud.call(42)


def test_jids_increase(cloud):
    jids = [cloud.call(jf.square, i) for i in range(3)]
    assert jids == sorted(jids) and len(set(jids)) == 3
    assert cloud.result(jids) == [0, 1, 4]


# --- map --------------------------------------------------------------------------------------
def test_map_two_iterables(cloud):
    jids = cloud.map(jf.multiply, [1, 3, 5], [2, 4, 6])
    assert cloud.result(jids) == [2, 12, 30]


def test_map_lambda_with_closure(cloud):
    factor = 3
    assert cloud.result(cloud.map(lambda x: x * factor, range(5))) == [0, 3, 6, 9, 12]


def test_map_unequal_iterables_padded_with_none(cloud):
    jids = cloud.map(jf.pair, [1, 2, 3], ["a"])
    assert len(jids) == 3
    assert cloud.result(jids) == [(1, "a"), (2, None), (3, None)]
    jids = cloud.map(jf.pair, [], [1, 2])
    assert cloud.result(jids) == [(None, 1), (None, 2)]


def test_map_single_iterable_and_generator(cloud):
    assert cloud.result(cloud.map(jf.square, range(4))) == [0, 1, 4, 9]
    assert cloud.result(cloud.map(jf.square, (i for i in range(3)))) == [0, 1, 4]


def test_map_empty_returns_empty(cloud):
    jids = cloud.map(jf.square, [])
    assert len(jids) == 0
    assert list(jids) == []


def test_map_jids_are_a_compact_sequence(cloud):
    n = 2000
    jids = cloud.map(jf.square, range(n))
    assert isinstance(jids, Sequence) and not isinstance(jids, list)
    assert sys.getsizeof(jids) < 200, "a map's jids must not be a list of every jid"
    assert len(jids) == n
    assert list(jids) == list(range(jids[0], jids[0] + n))
    assert jids[-1] == jids[0] + n - 1
    assert list(jids[10:13]) == [jids[10], jids[11], jids[12]]
    results = cloud.result(jids)
    assert results == [i * i for i in range(n)]


def test_map_more_than_10000_rows(cloud):
    jids = cloud.map(jf.square, range(10_001))
    assert len(jids) == 10_001
    assert sum(cloud.result(jids)) == sum(i * i for i in range(10_001))


def test_map_jids_accepted_everywhere(cloud, gates):
    jids = cloud.map(jf.square, range(5))
    cloud.join(jids)
    assert cloud.status(jids) == ["done"] * 5
    assert cloud.result(jids[1:3]) == [1, 4]
    assert list(cloud.iresult(jids)) == [0, 1, 4, 9, 16]
    assert sorted(cloud.info(jids, "status")) == list(jids)
    assert cloud.result([jids, cloud.call(jf.square, 6)]) == [0, 1, 4, 9, 16, 36]
    child = cloud.call(jf.square, 7, _depends_on=jids)
    assert cloud.result(child) == 49
    cloud.kill(jids)  # finished jobs: nothing to do
    assert cloud.status(jids) == ["done"] * 5
    cloud.delete(jids)
    with pytest.raises(CloudException):
        cloud.status(jids[0])
    gate = gates("g")
    blocked = cloud.map(jf.wait_for_file, [gate.path] * 2)
    for jid in blocked:
        wait_status(cloud, jid, "processing")
    cloud.kill(blocked)
    assert cloud.status(blocked) == ["killed", "killed"]


def test_map_errors(cloud):
    before = cloud.call(jf.square, 1)
    with pytest.raises(ValueError, match="at least 2 arguments"):
        cloud.map(jf.square)
    with pytest.raises(TypeError, match="map argument 2 .* is not an iterable"):
        cloud.map(jf.square, 5)
    with pytest.raises(TypeError, match="not callable"):
        cloud.map(5, [1])
    with pytest.raises(TypeError, match="not callable"):  # checked before the arguments
        cloud.map("asdf")
    with pytest.raises(ValueError, match="Unexpected keyword argument"):
        cloud.map(jf.square, [1], x=1)
    assert cloud.call(jf.square, 2) == before + 1  # nothing was queued


# --- result / join / status ------------------------------------------------------------------
def test_result_single_and_list(cloud):
    jid = cloud.call(jf.square, 3)
    assert cloud.result(jid) == 9
    assert cloud.result([jid]) == [9]
    assert cloud.result((jid, jid)) == [9, 9]
    assert cloud.result([]) == []


@pytest.mark.parametrize("size", [10, 5_000, 300_000])
def test_results_small_middling_and_large_arrive_whole_as_often_as_asked(cloud, size):
    """Small results ride their job's notice, large ones are read apart from the rest."""
    jid = cloud.call(jf.identity, "r" * size)
    assert cloud.result(jid) == (("r" * size,), {})
    assert cloud.result(jid) == (("r" * size,), {})  # read again, from the broker
    texts = ["a" * size, "b", "c" * size]
    assert cloud.result(cloud.map(jf.identity, texts)) == [((t,), {}) for t in texts]


def test_result_and_join_wait_on_events_not_polling(cloud):
    """PiCloud polled every 1 s; picloud's result returns as soon as the job is done."""
    started = time.monotonic()
    for i in range(20):
        assert cloud.result(cloud.call(jf.square, i)) == i * i
        cloud.join(cloud.call(jf.square, i))
    assert time.monotonic() - started < 5


def test_result_ignore_errors_puts_exception_in_slot(cloud):
    jids = cloud.map(jf.raise_if_odd, range(4))
    values = cloud.result(jids, ignore_errors=True)
    assert values[0] == 0 and values[2] == 2
    for position in (1, 3):
        assert isinstance(values[position], CloudException)
        assert values[position].jid == jids[position]
        assert f"odd {position}" in str(values[position])


def test_join_returns_none_and_waits(cloud, gates):
    gate = gates("g")
    jid = cloud.call(jf.wait_for_file, gate.path, "v")
    with pytest.raises(CloudTimeoutError):
        cloud.join(jid, timeout=0.1)
    gate.open()
    assert cloud.join(jid) is None
    assert cloud.status(jid) == "done"


def test_join_raises_for_error_unless_ignore_errors(cloud):
    jids = cloud.map(jf.raise_if_odd, range(4))
    with pytest.raises(CloudException) as info:
        cloud.join(jids)
    assert info.value.jid in (jids[1], jids[3])
    assert cloud.join(jids, ignore_errors=True) is None
    assert cloud.status(jids) == ["done", "error", "done", "error"]


def test_status_single_is_str_list_for_iterable(cloud):
    jid = cloud.call(jf.square, 2)
    cloud.join(jid)
    assert cloud.status(jid) == "done"
    assert cloud.status([jid]) == ["done"]
    failed = cloud.call(jf.raise_value_error)
    cloud.join(failed, ignore_errors=True)
    assert cloud.status([failed, jid]) == ["error", "done"]


def test_finished_statuses_constant():
    assert picloud.finished_statuses == ["done", "stalled", "error", "killed"]
    assert [s.value for s in picloud.JobStatus] == [
        "waiting",
        "queued",
        "processing",
        "done",
        "error",
        "killed",
        "stalled",
    ]


# --- iresult ----------------------------------------------------------------------------------
def test_iresult_is_ordered(cloud, gates):
    first, second = gates("first"), gates("second")
    jids = cloud.map(jf.wait_for_file, [first.path, second.path], ["a", "b"])
    iterator = cloud.iresult(jids)
    second.open()
    wait_status(cloud, jids[1], "done")  # the later job finishes first...
    first.open()
    assert list(iterator) == ["a", "b"]  # ...but results come in jid order


def test_iresult_error_raised_and_iteration_continues(cloud):
    jids = cloud.map(jf.raise_if_odd, range(5))
    iterator = iter(cloud.iresult(jids))
    got = []
    errors = []
    while True:
        try:
            got.append(next(iterator))
        except StopIteration:
            break
        except CloudException as exc:
            errors.append(exc)
    assert got == [0, 2, 4]
    assert [e.jid for e in errors] == [jids[1], jids[3]]
    assert all("odd" in str(e) for e in errors)


def test_iresult_ignore_errors_yields_exceptions(cloud):
    values = list(cloud.iresult(cloud.map(jf.raise_if_odd, range(3)), ignore_errors=True))
    assert values[0] == 0 and values[2] == 2
    assert isinstance(values[1], CloudException)


@pytest.mark.parametrize("num_in_parallel", [1, 3, 0, 5000])
def test_iresult_num_in_parallel_values(cloud, num_in_parallel):
    jids = cloud.map(jf.square, range(7))
    assert list(cloud.iresult(jids, num_in_parallel=num_in_parallel)) == [i * i for i in range(7)]


@pytest.mark.parametrize("num_in_parallel", [1, 3])
def test_iresult_reads_ahead_num_in_parallel(cloud, num_in_parallel):
    """After the first next(), up to num_in_parallel finished results are on the client:
    deleting the jobs then only affects the results beyond that window."""
    jids = cloud.map(jf.square, range(6))
    cloud.join(jids)
    iterator = iter(cloud.iresult(jids, num_in_parallel=num_in_parallel))
    assert next(iterator) == 0
    cloud.delete(jids)
    for i in range(1, num_in_parallel):
        assert next(iterator) == i * i
    with pytest.raises(CloudException):
        next(iterator)


def test_iresult_timeout(cloud, gates):
    gate = gates("g")
    jid = cloud.call(jf.wait_for_file, gate.path, 5)
    iterator = iter(cloud.iresult([jid], timeout=0.1))
    with pytest.raises(CloudTimeoutError):
        next(iterator)
    gate.open()
    assert list(cloud.iresult([jid])) == [5]


# --- info -------------------------------------------------------------------------------------
def test_info_default_fields(cloud):
    jid = cloud.call(jf.print_text, "hello", "oops")
    cloud.join(jid)
    info = cloud.info(jid)
    assert list(info) == [jid]
    fields = info[jid]
    assert set(fields) == {"stdout", "stderr", "status", "runtime"}
    assert fields["status"] == "done"
    assert fields["stdout"] == "hello\n"
    assert fields["stderr"] == "oops\n"
    assert isinstance(fields["runtime"], float) and fields["runtime"] >= 0


def test_info_one_field_and_list_of_fields(cloud):
    jid = cloud.call(jf.square, 3)
    cloud.join(jid)
    assert cloud.info(jid, "status") == {jid: {"status": "done"}}
    assert set(cloud.info(jid, ["status", "exception"])[jid]) == {"status", "exception"}
    assert cloud.info(jid, ["exception"])[jid]["exception"] is None


def test_info_all_fields(cloud):
    jid = cloud.call(jf.square, 7, _label="sq", _priority=3)
    cloud.join(jid)
    info = cloud.info(jid, "all")[jid]
    expected = {
        "status",
        "stdout",
        "stderr",
        "exception",
        "runtime",
        "created",
        "finished",
        "function",
        "label",
        "args",
        "kwargs",
        "func_body",
        "env",
        "vol",
        "attributes",
        "profile",
        "logging",
        "pilog",
        "syslog",
    }
    assert expected <= set(info)
    assert info["status"] == "done"
    assert info["exception"] is None
    assert "square" in info["function"]
    assert info["label"] == "sq"
    assert info["args"] == (7,)
    assert info["kwargs"] == {}
    assert info["func_body"](3) == 9
    assert isinstance(info["created"], datetime.datetime)
    assert isinstance(info["finished"], datetime.datetime)
    assert info["created"] <= info["finished"]
    attributes = info["attributes"]
    assert {"env", "vol", "core_type", "cores", "max_runtime", "label"} <= set(attributes)
    assert attributes["label"] == "sq" and attributes["core_type"] == "c1"
    assert info["priority"] == 3


def test_info_exception_of_failed_job(cloud):
    jid = cloud.call(jf.raise_value_error, "kaput-17")
    cloud.join(jid, ignore_errors=True)
    exception = cloud.info(jid, "exception")[jid]["exception"]
    assert "Traceback (most recent call last)" in exception
    assert "ValueError: kaput-17" in exception


def test_info_runtime_measures_the_job_and_grows_while_processing(cloud, gates):
    jid = cloud.call(jf.sleep_then_return, 0.2)
    cloud.join(jid)
    assert cloud.info(jid, "runtime")[jid]["runtime"] >= 0.2
    gate = gates("g")
    blocked = cloud.call(jf.wait_for_file, gate.path)
    wait_status(cloud, blocked, "processing")
    first = wait_for(lambda: cloud.info(blocked, "runtime")[blocked]["runtime"])
    wait_for(lambda: cloud.info(blocked, "runtime")[blocked]["runtime"] > first)
    gate.open()
    cloud.join(blocked)


def test_info_of_many_jobs(cloud):
    jids = cloud.map(jf.square, range(3))
    cloud.join(jids)
    info = cloud.info(jids, ["status"])
    assert info == {jid: {"status": "done"} for jid in jids}


def test_info_group_fields_are_accepted(cloud):
    jid = cloud.call(jf.square, 2)
    cloud.join(jid)
    info = cloud.info(jid, ["status", "memory.failcnt", "cputime"])[jid]
    assert {"status", "memory.failcnt", "cputime"} <= set(info)  # values: what the engine knows
    assert info["status"] == "done"


def test_info_leaves_unknown_fields_out(cloud):
    """PiCloud ignored the fields it did not know."""
    jid = cloud.call(jf.square, 2)
    cloud.join(jid)
    assert cloud.info(jid, ["bogus", "status"]) == {jid: {"status": "done"}}
    assert cloud.info(jid, "sadf") == {jid: {}}


def test_info_empty_request_means_the_default_fields(cloud):
    jid = cloud.call(jf.square, 2)
    cloud.join(jid)
    assert set(cloud.info(jid, [])[jid]) == {"stdout", "stderr", "status", "runtime"}


def test_info_bad_requests(cloud):
    jid = cloud.call(jf.square, 2)
    cloud.join(jid)
    with pytest.raises(TypeError, match="info_requested"):
        cloud.info(jid, 5)
    with pytest.raises(TypeError, match="info_requested"):
        cloud.info(jid, ["status", 5])
    with pytest.raises(TypeError, match="must be integers"):  # the jid is checked first
        cloud.info("asdf", "sadf")
