"""Every reserved ``_keyword`` of call and map: accepted, validated, and with its effect."""

from __future__ import annotations

import os
import pickle
import threading
import time

import pytest

from picloud.client import Cloud
from picloud.exceptions import CloudException
from tests import jobfuncs as jf
from tests.conftest import CONNECTION_TYPES, ENGINE_NAMES, NUM_PROCS, factory_of
from tests.jobfuncs import process_gone, read_when_written, wait_for, wait_status

ALL_VALID = {
    "_callback": [lambda jid: None],
    "_callback_on_error": lambda: None,
    "_cores": 2,
    "_depends_on": [],
    "_depends_on_errors": "ignore",
    "_env": "base",
    "_fast_serialization": 1,
    "_kill_process": True,
    "_label": "everything",
    "_max_runtime": 5,
    "_os_env_vars": {"PICLOUD_TEST_ALL": "1"},
    "_priority": 2,
    "_profile": True,
    "_restartable": False,
    "_type": "c2",
    "_vol": ["data"],
}


def test_every_reserved_keyword_accepted_together(cloud):
    jid = cloud.call(jf.env_lookup, "PICLOUD_TEST_ALL", **ALL_VALID)
    assert cloud.result(jid) == ["1"]
    attributes = cloud.info(jid, "attributes")[jid]["attributes"]
    assert attributes["cores"] == 2
    assert attributes["core_type"] == "c2"
    assert attributes["env"] == "base"
    assert attributes["vol"] == ["data"]
    assert attributes["label"] == "everything"
    assert attributes["max_runtime"] == 5
    assert attributes["restartable"] is False


def test_map_accepts_reserved_keywords(cloud):
    options = {k: v for k, v in ALL_VALID.items() if not k.startswith("_callback")}
    jids = cloud.map(jf.env_lookup, ["PICLOUD_TEST_ALL"] * 3, **options)
    assert cloud.result(jids) == [["1"]] * 3
    assert {i["label"] for i in cloud.info(jids, "label").values()} == {"everything"}


# --- bad values: a clear error before anything runs ------------------------------------------
BAD_VALUES = [
    ("_callback", 3, CloudException, "callable"),
    ("_callback_on_error", [print, "x"], CloudException, "callable"),
    ("_cores", "2", TypeError, "_cores"),
    ("_cores", 0, ValueError, "_cores"),
    ("_cores", 2, ValueError, "_cores"),  # c1 has one core
    ("_cores", True, TypeError, "_cores"),
    ("_depends_on", "asdf", TypeError, "integers"),
    ("_depends_on", 1.5, TypeError, "integers"),
    ("_depends_on_errors", "maybe", ValueError, "_depends_on_errors"),
    ("_env", 3, TypeError, "_env"),
    ("_fast_serialization", 3, ValueError, "_fast_serialization"),
    ("_fast_serialization", True, TypeError, "_fast_serialization"),
    ("_fast_serialization", "0", TypeError, "_fast_serialization"),
    ("_label", 5, TypeError, "_label"),
    ("_label", "h\u00e9llo", TypeError, "ASCII"),
    ("_max_runtime", 0, ValueError, "_max_runtime"),
    ("_max_runtime", -1, ValueError, "_max_runtime"),
    ("_max_runtime", 1.5, TypeError, "_max_runtime"),
    ("_max_runtime", "1", TypeError, "_max_runtime"),
    ("_os_env_vars", 5, TypeError, "_os_env_vars"),
    ("_os_env_vars", ["PICLOUD_TEST_SURELY_UNSET"], ValueError, "PICLOUD_TEST_SURELY_UNSET"),
    ("_os_env_vars", {"A": 1}, ValueError, "_os_env_vars"),
    ("_os_env_vars", {"A=B": "1"}, ValueError, "_os_env_vars"),
    ("_priority", "high", TypeError, "_priority"),
    ("_priority", 1.5, TypeError, "_priority"),
    ("_restartable", "yes", TypeError, "_restartable"),
    ("_type", "c3", ValueError, "c3"),
    ("_type", 3, TypeError, "_type"),
    ("_vol", 3, TypeError, "_vol"),
    ("_vol", ["ok", 1], TypeError, "_vol"),
    ("_prority", 1, TypeError, "did you mean _priority"),
    ("_bogus", 1, TypeError, "_bogus"),
]


@pytest.mark.parametrize(
    ("name", "value", "error", "text"),
    BAD_VALUES,
    ids=[f"{name}={value!r}" for name, value, *_ in BAD_VALUES],
)
def test_bad_reserved_keyword_in_call(cloud, name, value, error, text):
    before = cloud.call(jf.square, 1)
    with pytest.raises(error) as info:
        cloud.call(jf.square, 3, **{name: value})
    assert text in str(info.value)
    assert cloud.call(jf.square, 2) == before + 1  # nothing was queued


@pytest.mark.parametrize(
    ("name", "value", "error", "text"),
    [bad for bad in BAD_VALUES if not bad[0].startswith("_callback")],
    ids=[f"{n}={v!r}" for n, v, *_ in BAD_VALUES if not n.startswith("_callback")],
)
def test_bad_reserved_keyword_in_map(cloud, name, value, error, text):
    before = cloud.call(jf.square, 1)
    with pytest.raises(error) as info:
        cloud.map(jf.square, [1, 2], **{name: value})
    assert text in str(info.value)
    assert cloud.call(jf.square, 2) == before + 1  # nothing was queued


# --- _depends_on ------------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["jid", "list", "map", "mixed"])
def test_depends_on_waits_for_parents(cloud, gates, form):
    gate = gates("g")
    parents = cloud.map(jf.wait_for_file, [gate.path] * 3, range(3))
    depends_on = {
        "jid": parents[0],
        "list": list(parents),
        "map": parents,
        "mixed": [parents[0], parents[1:]],
    }[form]
    child = cloud.call(jf.square, 5, _depends_on=depends_on)
    children = cloud.map(jf.square, [6, 7], _depends_on=depends_on)
    assert cloud.status(child) == "waiting"
    assert cloud.status(children) == ["waiting", "waiting"]
    assert cloud.info(child, "depends_on")[child]["depends_on"] == list(
        parents if form != "jid" else parents[:1]
    )
    gate.open()
    assert cloud.result(child) == 25
    assert cloud.result(children) == [36, 49]
    assert cloud.result(parents) == [0, 1, 2]


def test_depends_on_finished_parent_runs_at_once(cloud):
    parent = cloud.call(jf.square, 2)
    cloud.join(parent)
    assert cloud.result(cloud.call(jf.square, 3, _depends_on=parent)) == 9


def test_dependency_chain(cloud, gates):
    gate = gates("g")
    first = cloud.call(jf.wait_for_file, gate.path, 1)
    second = cloud.call(jf.add, 1, 1, _depends_on=first)
    third = cloud.call(jf.add, 2, 1, _depends_on=second)
    assert cloud.status([second, third]) == ["waiting", "waiting"]
    gate.open()
    assert cloud.result([first, second, third]) == [1, 2, 3]


def test_stalled_when_parent_errors(cloud, gates):
    gate = gates("g")
    parent = cloud.call(jf.print_and_wait_for_file, "x", gate.path)
    failing = cloud.call(jf.raise_value_error, _depends_on=parent)
    child = cloud.call(jf.square, 2, _depends_on=[parent, failing])
    grandchild = cloud.call(jf.square, 3, _depends_on=child)
    assert cloud.status([failing, child, grandchild]) == ["waiting"] * 3
    gate.open()
    wait_status(cloud, grandchild, "stalled")
    assert cloud.status([parent, failing, child]) == ["done", "error", "stalled"]
    exception = cloud.info(child, "exception")[child]["exception"]
    assert f"job {failing}" in exception
    assert f"job {child}" in cloud.info(grandchild, "exception")[grandchild]["exception"]
    with pytest.raises(CloudException) as info:
        cloud.result(child)
    assert info.value.status == "stalled" and str(failing) in str(info.value)


def test_stalled_when_parent_killed(cloud, gates):
    parent = cloud.call(jf.wait_for_file, gates("never").path)
    child = cloud.call(jf.square, 2, _depends_on=parent)
    wait_status(cloud, parent, "processing")
    cloud.kill(parent)
    wait_status(cloud, child, "stalled")
    assert f"job {parent}" in cloud.info(child, "exception")[child]["exception"]


def test_stalled_at_once_when_parent_already_failed(cloud):
    parent = cloud.call(jf.raise_value_error)
    cloud.join(parent, ignore_errors=True)
    child = cloud.call(jf.square, 2, _depends_on=parent)
    assert cloud.status(child) == "stalled"
    assert f"job {parent}" in cloud.info(child, "exception")[child]["exception"]


def test_stalled_when_one_job_of_a_map_parent_fails(cloud, gates):
    gate = gates("g")
    parents = cloud.map(jf.wait_then_raise, [gate.path] * 2)
    child = cloud.call(jf.square, 2, _depends_on=parents)
    gate.open()
    wait_status(cloud, child, "stalled")
    exception = cloud.info(child, "exception")[child]["exception"]
    assert f"job {parents[0]}" in exception or f"job {parents[1]}" in exception


def test_depends_on_errors_abort_is_the_default(cloud, gates):
    gate = gates("g")
    parent = cloud.call(jf.wait_then_raise, gate.path)
    explicit = cloud.call(jf.square, 2, _depends_on=parent, _depends_on_errors="abort")
    default = cloud.call(jf.square, 2, _depends_on=parent)
    gate.open()
    wait_status(cloud, explicit, "stalled")
    wait_status(cloud, default, "stalled")


def test_depends_on_errors_ignore(cloud, gates):
    gate = gates("g")
    parent = cloud.call(jf.print_and_wait_for_file, "x", gate.path)
    failing = cloud.call(jf.raise_value_error, _depends_on=parent)
    child = cloud.call(jf.square, 4, _depends_on=failing, _depends_on_errors="ignore")
    assert cloud.status(child) == "waiting"
    gate.open()
    assert cloud.result(child) == 16
    assert cloud.status(failing) == "error"
    # also when the parent had failed before the child was submitted
    late = cloud.call(jf.square, 5, _depends_on=failing, _depends_on_errors="ignore")
    assert cloud.result(late) == 25


def test_depends_on_errors_ignore_killed_parent(cloud, gates):
    parent = cloud.call(jf.wait_for_file, gates("never").path)
    child = cloud.call(jf.square, 3, _depends_on=parent, _depends_on_errors="ignore")
    wait_status(cloud, parent, "processing")
    cloud.kill(parent)
    assert cloud.result(child, timeout=10) == 9


# --- _max_runtime -----------------------------------------------------------------------------
def test_max_runtime_recorded(cloud):
    jid = cloud.call(jf.square, 2, _max_runtime=3)
    assert cloud.result(jid) == 4
    assert cloud.info(jid, "attributes")[jid]["attributes"]["max_runtime"] == 3


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_max_runtime_kills_the_job(request, tmp_path):
    """On every engine at once (the limit is a whole minute: one wait, not one per engine)."""
    never = str(tmp_path / "never")  # a gate no one opens
    clouds = {
        name: Cloud(factory_of(name, request), lambda name=name: CONNECTION_TYPES[name])
        for name in ENGINE_NAMES
    }
    try:
        jobs = {}
        for name, cloud in clouds.items():
            pid_path = str(tmp_path / f"{name}.pid")
            quick = cloud.call(jf.sleep_then_return, 0.5, "quick", _max_runtime=1)
            slow = cloud.call(jf.write_pid_and_wait, pid_path, never, timeout=200, _max_runtime=1)
            jobs[name] = (quick, slow, pid_path)
        for name, (quick, slow, pid_path) in jobs.items():
            cloud = clouds[name]
            jobs[name] = (quick, slow, int(read_when_written(pid_path)))
            assert cloud.result(quick) == "quick", name
            wait_status(cloud, slow, "processing")
        for name, (_, slow, pid) in jobs.items():
            cloud = clouds[name]
            wait_status(cloud, slow, "killed", timeout=90)
            info = cloud.info(slow, ["exception", "runtime", "status"])[slow]
            assert "_max_runtime" in info["exception"], name
            assert 59 <= info["runtime"] < 90, (name, info)
            wait_for(lambda pid=pid: process_gone(pid), 10, f"{name}: worker {pid} to exit")
            with pytest.raises(CloudException) as error:
                cloud.result(slow)
            assert error.value.status == "killed", name
    finally:
        for cloud in clouds.values():
            cloud.close()


# --- _cores / _type / _label / _env / _vol / _restartable: validated and recorded -------------
@pytest.mark.parametrize("pool", ["c1", "c2", "m1", "s1"])
def test_type_recorded(cloud, pool):
    jid = cloud.call(jf.square, 3, _type=pool)
    assert cloud.result(jid) == 9
    info = cloud.info(jid, ["type", "attributes"])[jid]
    assert info["type"] == pool
    assert info["attributes"]["core_type"] == pool


def test_type_default_and_high_cpu(cloud):
    default = cloud.call(jf.square, 1)
    high = cloud.call(jf.square, 1, _high_cpu=True)
    cloud.join([default, high])
    assert cloud.info(default, "type")[default]["type"] == "c1"
    assert cloud.info(high, "type")[high]["type"] == "c2"


@pytest.mark.parametrize(("pool", "cores"), [("c1", 1), ("c2", 8), ("m1", 4), ("s1", 1)])
def test_cores_recorded(cloud, pool, cores):
    jid = cloud.call(jf.square, 2, _type=pool, _cores=cores)
    assert cloud.result(jid) == 4
    assert cloud.info(jid, "attributes")[jid]["attributes"]["cores"] == cores


@pytest.mark.parametrize(("pool", "cores"), [("s1", 2), ("c2", 3), ("m1", 16)])
def test_cores_not_available_on_pool(cloud, pool, cores):
    with pytest.raises(ValueError, match="_cores"):
        cloud.call(jf.square, 2, _type=pool, _cores=cores)


def test_label_env_vol_restartable_recorded(cloud):
    jid = cloud.call(
        jf.square, 2, _label="my label", _env="myenv", _vol=["a", "b"], _restartable=False
    )
    single_vol = cloud.call(jf.square, 2, _vol="only")
    cloud.join([jid, single_vol])
    info = cloud.info(jid, ["label", "env", "vol", "attributes"])[jid]
    assert info["label"] == "my label"
    assert info["env"] == "myenv"
    assert info["vol"] == ["a", "b"]
    assert info["attributes"]["restartable"] is False
    assert cloud.info(single_vol, "vol")[single_vol]["vol"] == ["only"]
    defaults = cloud.info(single_vol, ["label", "env", "attributes"])[single_vol]
    assert defaults["label"] is None and defaults["env"] is None
    assert defaults["attributes"]["restartable"] is True


# --- _os_env_vars -----------------------------------------------------------------------------
def test_os_env_vars_dict(cloud):
    jid = cloud.call(
        jf.env_lookup, "PICLOUD_TEST_A", "PICLOUD_TEST_B", _os_env_vars={"PICLOUD_TEST_A": "1"}
    )
    assert cloud.result(jid) == ["1", None]
    # the variable is gone for the next jobs on the same workers
    later = cloud.map(jf.env_lookup, ["PICLOUD_TEST_A"] * (2 * NUM_PROCS))
    assert cloud.result(later) == [[None]] * (2 * NUM_PROCS)


def test_os_env_vars_names_take_values_from_the_caller(cloud, monkeypatch):
    monkeypatch.setenv("PICLOUD_TEST_NAMED", "from-caller")
    jid = cloud.call(jf.env_lookup, "PICLOUD_TEST_NAMED", _os_env_vars=["PICLOUD_TEST_NAMED"])
    assert cloud.result(jid) == ["from-caller"]


# --- _callback / _callback_on_error ------------------------------------------------------------
class Recorder:
    """Callbacks that record (name, jid, pid, thread) of each call."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def one_arg(self, name):
        def callback(jid):
            with self.lock:
                self.calls.append((name, jid, os.getpid(), threading.current_thread().name))

        return callback

    def no_arg(self, name):
        def callback():
            with self.lock:
                self.calls.append((name, None, os.getpid(), threading.current_thread().name))

        return callback

    def wait(self, count):
        wait_for(lambda: len(self.calls) >= count, 5, f"{count} callbacks")
        return [call[:2] for call in self.calls]


def test_callback_runs_in_callers_process_with_jid(cloud):
    recorder = Recorder()
    jid = cloud.call(jf.square, 2, _callback=recorder.one_arg("done"))
    assert recorder.wait(1) == [("done", jid)]
    assert recorder.calls[0][2] == os.getpid()
    assert cloud.result(jid) == 4


def test_callback_list_in_order_and_zero_argument_callbacks(cloud):
    recorder = Recorder()
    callbacks = [recorder.one_arg("a"), recorder.no_arg("b"), recorder.one_arg("c")]
    jid = cloud.call(jf.square, 2, _callback=callbacks)
    assert recorder.wait(3) == [("a", jid), ("b", None), ("c", jid)]


def test_callback_not_run_on_error_and_on_error_not_run_on_success(cloud):
    recorder = Recorder()
    failed = cloud.call(
        jf.raise_value_error,
        _callback=recorder.one_arg("done"),
        _callback_on_error=recorder.one_arg("error"),
    )
    ok = cloud.call(
        jf.square,
        3,
        _callback=recorder.one_arg("done"),
        _callback_on_error=recorder.one_arg("error"),
    )
    cloud.join([failed, ok], ignore_errors=True)
    assert sorted(recorder.wait(2)) == sorted([("error", failed), ("done", ok)])
    cloud.close()  # runs every callback already scheduled
    assert len(recorder.calls) == 2


def test_callback_on_error_for_killed_and_stalled(cloud, gates):
    recorder = Recorder()
    running = cloud.call(
        jf.wait_for_file, gates("never").path, _callback_on_error=recorder.one_arg("killed")
    )
    stalled = cloud.call(
        jf.square, 1, _depends_on=running, _callback_on_error=recorder.no_arg("stalled")
    )
    wait_status(cloud, running, "processing")
    cloud.kill(running)
    assert sorted(recorder.wait(2), key=str) == sorted(
        [("killed", running), ("stalled", None)], key=str
    )
    assert cloud.status(stalled) == "stalled"


def test_callback_for_job_already_finished(cloud):
    recorder = Recorder()
    parent = cloud.call(jf.raise_value_error)
    cloud.join(parent, ignore_errors=True)
    child = cloud.call(jf.square, 1, _depends_on=parent, _callback_on_error=recorder.one_arg("s"))
    assert recorder.wait(1) == [("s", child)]


def test_map_callbacks_run_for_each_job(cloud):
    """picloud does not copy PiCloud's refusal of callbacks in map (compat notes section 11)."""
    recorder = Recorder()
    jids = cloud.map(
        jf.raise_if_odd,
        range(4),
        _callback=recorder.one_arg("done"),
        _callback_on_error=recorder.one_arg("error"),
    )
    calls = recorder.wait(4)
    assert sorted(calls) == sorted(
        [("done", jids[0]), ("error", jids[1]), ("done", jids[2]), ("error", jids[3])]
    )


def test_callbacks_are_prompt(cloud):
    """Callbacks follow events, not PiCloud's 2 s status polling."""
    recorder = Recorder()
    started = time.monotonic()
    for i in range(10):
        cloud.call(jf.square, i, _callback=recorder.one_arg("done"))
        recorder.wait(i + 1)
    assert time.monotonic() - started < 5


def test_callback_exception_does_not_break_the_client(cloud):
    recorder = Recorder()

    def broken(jid):
        raise RuntimeError("callback failure")

    jid = cloud.call(jf.square, 2, _callback=[broken, recorder.one_arg("after")])
    assert recorder.wait(1) == [("after", jid)]
    assert cloud.result(cloud.call(jf.square, 3)) == 9


# --- _priority --------------------------------------------------------------------------------
def test_priority_lower_runs_first(cloud, gates):
    gate = gates("g")
    busy = [cloud.call(jf.wait_for_file, gate.path) for _ in range(NUM_PROCS)]
    for jid in busy:
        wait_status(cloud, jid, "processing")
    low = [cloud.call(jf.started_at, f"low{i}", _priority=9) for i in range(NUM_PROCS)]
    default = [cloud.call(jf.started_at, f"default{i}") for i in range(NUM_PROCS)]
    high = [cloud.call(jf.started_at, f"high{i}", _priority=1) for i in range(NUM_PROCS)]
    assert cloud.info(high[0], "priority")[high[0]]["priority"] == 1
    assert cloud.info(default[0], "priority")[default[0]]["priority"] == 5
    gate.open()
    started = cloud.result([*low, *default, *high])
    order = [label.rstrip("0123456789") for label, _ in sorted(started, key=lambda s: s[1])]
    assert order == ["high"] * NUM_PROCS + ["default"] * NUM_PROCS + ["low"] * NUM_PROCS


# --- _kill_process ----------------------------------------------------------------------------
def test_kill_process_gives_each_job_a_fresh_process(cloud):
    pids = cloud.result(cloud.map(jf.return_pid, range(6), _kill_process=True))
    assert len(set(pids)) == 6
    singles = [cloud.call(jf.return_pid, _kill_process=True) for _ in range(3)]
    pids += cloud.result(singles)
    assert len(set(pids)) == 9
    for pid in pids:
        wait_for(lambda pid=pid: process_gone(pid), 10, f"worker {pid} to exit")
    assert cloud.result(cloud.map(jf.square, range(4))) == [0, 1, 4, 9]  # workers replaced


def test_kill_process_recorded(cloud):
    jid = cloud.call(jf.square, 2, _kill_process=True)
    cloud.join(jid)
    assert cloud.info(jid, "attributes")[jid]["attributes"]["kill_process"] is True


# --- _profile ---------------------------------------------------------------------------------
def test_profile(cloud):
    profiled = cloud.call(jf.profiled_work, 15, _profile=True)
    plain = cloud.call(jf.profiled_work, 15)
    assert cloud.result([profiled, plain]) == [610, 610]
    profile = cloud.info(profiled, "profile")[profiled]["profile"]
    assert isinstance(profile, str)
    assert "function calls" in profile and "_fib" in profile
    assert not cloud.info(plain, "profile")[plain]["profile"]


def test_profile_of_failed_job(cloud):
    def fails():
        jf.profiled_work(5)
        raise ValueError("after work")

    jid = cloud.call(fails, _profile=True)
    cloud.join(jid, ignore_errors=True)
    assert cloud.status(jid) == "error"


# --- _fast_serialization ----------------------------------------------------------------------
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_fast_serialization_modes_round_trip(cloud, mode):
    value = {"list": [1, 2.5, "x"], "tuple": (None, True), "bytes": b"\x00"}
    jid = cloud.call(jf.identity, value, key=value, _fast_serialization=mode)
    assert cloud.result(jid) == ((value,), {"key": value})
    jids = cloud.map(jf.square, range(3), _fast_serialization=mode)
    assert cloud.result(jids) == [0, 1, 4]
    info = cloud.info(jid, "attributes")[jid]["attributes"]
    assert info["fast_serialization"] == mode


@pytest.mark.parametrize("mode", [0, 1])
def test_lambda_argument_with_cloudpickle(cloud, mode):
    jid = cloud.call(jf.identity, lambda: 5, _fast_serialization=mode)
    (function,), _ = cloud.result(jid)
    assert function() == 5


def test_fast_serialization_2_uses_plain_pickle_for_arguments(cloud):
    before = cloud.call(jf.square, 1)
    with pytest.raises(pickle.PicklingError) as info:
        cloud.call(jf.identity, lambda: 5, _fast_serialization=2)
    assert "argument 1" in str(info.value)
    with pytest.raises(pickle.PicklingError):
        cloud.map(jf.identity, [lambda: 5], _fast_serialization=2)
    assert cloud.call(jf.square, 2) == before + 1  # nothing was queued
    # the function itself is still cloudpickled
    assert cloud.result(cloud.call(lambda: 6, _fast_serialization=2)) == 6


def test_fast_serialization_2_uses_plain_pickle_for_results(cloud):
    plain = cloud.call(jf.return_lambda, _fast_serialization=2)
    with pytest.raises(CloudException) as info:
        cloud.result(plain)
    assert cloud.status(plain) == "error"
    assert "result" in str(info.value)
    assert cloud.result(cloud.call(jf.return_lambda))() == 42


def test_fast_serialization_1_names_argument_without_path(cloud):
    import socket

    with socket.socket() as sock, pytest.raises(pickle.PicklingError) as info:
        cloud.call(jf.square, [sock], _fast_serialization=1)
    assert str(info.value).startswith("argument 1")
