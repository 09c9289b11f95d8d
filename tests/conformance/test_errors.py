"""Bad inputs and failed jobs: CloudException, CloudTimeoutError, unknown and invalid jids,
unpicklable functions and arguments."""

from __future__ import annotations

import pickle

import pytest

import picloud.config
from picloud.exceptions import CloudException, CloudTimeoutError, PicklingFailure
from tests import jobfuncs as jf
from tests.jobfuncs import wait_status

UNKNOWN_JID = 987_654


class Holder:
    def __init__(self, conn):
        self.name = "holder"
        self.conn = conn


# --- failed jobs ------------------------------------------------------------------------------
def test_result_of_errored_job_raises_cloud_exception_with_remote_traceback(cloud):
    jid = cloud.call(jf.raise_value_error, "kaput-42")
    with pytest.raises(CloudException) as info:
        cloud.result(jid)
    exc = info.value
    assert type(exc) is CloudException  # the job's own exception type is never re-raised
    assert not isinstance(exc, ValueError)
    assert exc.jid == jid
    assert exc.status == "error"
    text = str(exc)
    assert text.startswith(f"Job {jid}: Traceback (most recent call last):")
    assert "in raise_value_error" in text
    assert text.rstrip().endswith("ValueError: kaput-42")
    assert exc.parameter == cloud.info(jid, "exception")[jid]["exception"]


def test_errored_lambda_traceback(cloud):
    jid = cloud.call(lambda: 1 / 0)
    with pytest.raises(CloudException, match="ZeroDivisionError: division by zero"):
        cloud.result(jid)


def test_join_of_errored_job_raises(cloud):
    jid = cloud.call(jf.raise_value_error, "kaput")
    with pytest.raises(CloudException) as info:
        cloud.join(jid)
    assert info.value.jid == jid and "ValueError: kaput" in str(info.value)


def test_cloud_exception_pickles(cloud):
    jid = cloud.call(jf.raise_value_error, "kaput")
    with pytest.raises(CloudException) as info:
        cloud.result(jid)
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is CloudException
    assert (copy.jid, copy.status, str(copy)) == (jid, "error", str(info.value))


def test_unpicklable_result_is_a_job_error(cloud):
    jid = cloud.call(jf.return_lock)
    with pytest.raises(CloudException) as info:
        cloud.result(jid)
    assert cloud.status(jid) == "error"
    assert "result" in str(info.value) and "lock" in str(info.value)


# --- timeouts ---------------------------------------------------------------------------------
def test_result_timeout(cloud, gates):
    gate = gates("g")
    jid = cloud.call(jf.wait_for_file, gate.path, "late")
    with pytest.raises(CloudTimeoutError) as info:
        cloud.result(jid, timeout=0.2)
    assert isinstance(info.value, CloudException)
    assert "timed out" in str(info.value)
    assert list(info.value.jid) == [jid]
    assert cloud.status(jid) in ("queued", "processing")  # a timeout does not touch the job
    gate.open()
    assert cloud.result(jid, timeout=30) == "late"


def test_join_timeout_names_pending_jobs(cloud, gates):
    gate = gates("g")
    done = cloud.call(jf.square, 2)
    cloud.join(done)
    pending = cloud.map(jf.wait_for_file, [gate.path] * 2)
    with pytest.raises(CloudTimeoutError) as info:
        cloud.join([done, pending], timeout=0.1)
    assert "cloud.join timed out" in str(info.value)
    assert sorted(info.value.jid) == list(pending)
    gate.open()
    cloud.join(pending)


# --- unknown and invalid jids -----------------------------------------------------------------
CALLS = {
    "status": lambda c, j: c.status(j),
    "result": lambda c, j: c.result(j),
    "join": lambda c, j: c.join(j),
    "info": lambda c, j: c.info(j),
    "kill": lambda c, j: c.kill(j),
    "delete": lambda c, j: c.delete(j),
    "iresult": lambda c, j: list(c.iresult(j)),
}


@pytest.mark.parametrize("method", list(CALLS))
def test_unknown_jid_raises_cloud_exception(cloud, method):
    cloud.result(cloud.call(jf.square, 1))
    for jid in (UNKNOWN_JID, [UNKNOWN_JID]):
        with pytest.raises(CloudException) as info:
            CALLS[method](cloud, jid)
        assert str(UNKNOWN_JID) in str(info.value)


INVALID_JIDS = {"str": "asdf", "float": 1.5, "none": None, "mix": [1, "x"]}


@pytest.mark.parametrize(
    ("method", "bad"),
    [
        pytest.param(method, bad, id=f"{method}-{name}")
        for method in CALLS
        for name, bad in INVALID_JIDS.items()
        if not (method == "kill" and bad is None)  # kill(None) means every job
    ],
)
def test_invalid_jid_raises_type_error(cloud, method, bad):
    with pytest.raises(TypeError, match="must be integers"):
        CALLS[method](cloud, bad)


def test_unknown_dependency(cloud):
    before = cloud.call(jf.square, 1)
    with pytest.raises(CloudException, match="dependency does not exist"):
        cloud.call(jf.square, 2, _depends_on=UNKNOWN_JID)
    assert cloud.call(jf.square, 2) == before + 1


# --- unpicklable function or argument ---------------------------------------------------------
def assert_nothing_queued(cloud, before):
    assert cloud.call(jf.square, 2) == before + 1


def test_unpicklable_argument_names_object_and_path(cloud, sock):
    before = cloud.call(jf.square, 1)
    with pytest.raises(pickle.PicklingError) as info:
        cloud.call(jf.pair, 1, Holder(sock))
    assert isinstance(info.value, PicklingFailure) and isinstance(info.value, CloudException)
    assert str(info.value) == (
        "argument 2 -> attribute .conn -> socket object: cannot pickle 'socket' object"
    )
    assert_nothing_queued(cloud, before)


def test_unpicklable_plain_argument(cloud, sock):
    before = cloud.call(jf.square, 1)
    with pytest.raises(PicklingFailure, match=r"^argument 1 -> socket object: cannot pickle"):
        cloud.call(jf.square, sock)
    with pytest.raises(PicklingFailure, match=r"^argument 1 -> item 2 -> socket object"):
        cloud.call(jf.square, [1, 2, sock])
    assert_nothing_queued(cloud, before)


def test_unpicklable_keyword_argument(cloud, sock):
    before = cloud.call(jf.square, 1)
    with pytest.raises(PicklingFailure, match=r"keyword argument 'b' -> attribute \.conn"):
        cloud.call(jf.add, 1, b=Holder(sock))
    assert_nothing_queued(cloud, before)


def test_unpicklable_map_item(cloud, sock):
    before = cloud.call(jf.square, 1)
    with pytest.raises(PicklingFailure) as info:
        cloud.map(jf.pair, [1, 2, 3], [4, Holder(sock), 6])
    message = str(info.value)
    assert "item 1" in message and "argument 2 -> attribute .conn -> socket object" in message
    assert_nothing_queued(cloud, before)


def test_unpicklable_function_names_object_and_path(cloud, sock):
    before = cloud.call(jf.square, 1)

    def uses_socket():
        return sock.fileno()

    with pytest.raises(PicklingFailure) as info:
        cloud.call(uses_socket)
    message = str(info.value)
    assert "uses_socket" in message
    assert "closure variable sock -> socket object: cannot pickle 'socket' object" in message
    with pytest.raises(PicklingFailure, match="uses_socket"):
        cloud.map(lambda x: uses_socket(), [1])
    assert_nothing_queued(cloud, before)


def test_unpicklable_callable_object(cloud, sock):
    before = cloud.call(jf.square, 1)

    class Job:
        def __init__(self):
            self.conn = sock

        def __call__(self):
            return 1

    with pytest.raises(PicklingFailure, match=r"attribute \.conn -> socket object"):
        cloud.call(Job())
    assert_nothing_queued(cloud, before)


def test_failed_job_does_not_break_the_worker(cloud):
    jids = cloud.map(jf.raise_if_odd, range(6))
    cloud.join(jids, ignore_errors=True)
    assert cloud.result(cloud.map(jf.square, range(4))) == [0, 1, 4, 9]


def test_stalled_result_raises(cloud, gates):
    gate = gates("g")
    parent = cloud.call(jf.wait_then_raise, gate.path)
    child = cloud.call(jf.square, 1, _depends_on=parent)
    gate.open()
    wait_status(cloud, child, "stalled")
    with pytest.raises(CloudException) as info:
        cloud.result(child)
    assert info.value.jid == child and info.value.status == "stalled"
    assert "Could not start due to dependency erroring" in str(info.value)


def test_arguments_larger_than_max_transmit_data_are_refused(cloud, monkeypatch):
    monkeypatch.setenv("PICLOUD_MAX_TRANSMIT_DATA", "1000")
    picloud.config.reload()
    try:
        with pytest.raises(CloudException, match=r"the arguments pickled to [\d,]+ bytes, more"):
            cloud.call(jf.identity, "x" * 2000)
        with pytest.raises(CloudException, match=r"map row 1 pickled to .*max_transmit_data"):
            cloud.map(jf.identity, ["small", "y" * 2000])
        assert cloud.result(cloud.call(jf.identity, "small")) == (("small",), {})
    finally:
        monkeypatch.undo()
        picloud.config.reload()
