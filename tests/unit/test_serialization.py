"""Serialization: the function cache and the error path for unpicklable objects."""

from __future__ import annotations

import pickle

import pytest

from picloud import serialization
from picloud.exceptions import PicklingFailure
from picloud.serialization import DEBUG, NO_DEBUG, PLAIN


class Holder:
    def __init__(self, conn):
        self.name = "holder"
        self.conn = conn


class Slotted:
    __slots__ = ("conn",)

    def __init__(self, conn):
        self.conn = conn


def dynamic_function(source: str, name: str, **globals_):
    """A function pickled by value (its module cannot be imported), with given globals."""
    namespace = {"__name__": "picloud_test_dynamic_module", **globals_}
    exec(source, namespace)
    return namespace[name], namespace


# --- round trips ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [DEBUG, NO_DEBUG, PLAIN])
def test_round_trip(mode):
    value = ((1, 2.5, "x", b"y", None, [1, {"k": (2, 3)}]), {"kw": {1, 2}})
    assert serialization.loads(serialization.dumps(value, mode)) == value


def test_cloudpickle_modes_ship_lambdas():
    for mode in (DEBUG, NO_DEBUG):
        assert serialization.loads(serialization.dumps(lambda: 7, mode))() == 7


def test_plain_mode_is_pickle():
    value = {"a": [1, 2]}
    assert serialization.dumps(value, PLAIN) == pickle.dumps(value, serialization.PROTOCOL)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        serialization.dumps(lambda: 7, PLAIN)


def test_function_name():
    assert serialization.function_name(test_function_name) == f"{__name__}.test_function_name"
    assert serialization.function_name(pow) == "builtins.pow"


# --- function cache ---------------------------------------------------------------------------
def test_same_function_pickled_once(monkeypatch):
    func, _ = dynamic_function("def f(x):\n    return x * FACTOR\n", "f", FACTOR=2)
    calls = []
    real = serialization.dumps_labelled

    def counting(obj, label, mode=DEBUG):
        calls.append(label)
        return real(obj, label, mode)

    monkeypatch.setattr(serialization, "dumps_labelled", counting)
    first = serialization.dumps_function(func)
    second = serialization.dumps_function(func)
    assert len(calls) == 1
    assert second is first
    assert serialization.loads(first)(3) == 6


def test_rebinding_a_global_changes_the_bytes():
    func, namespace = dynamic_function("def f(x):\n    return x * FACTOR\n", "f", FACTOR=2)
    before = serialization.dumps_function(func)
    namespace["FACTOR"] = 10
    after = serialization.dumps_function(func)
    assert after != before
    assert serialization.loads(before)(3) == 6
    assert serialization.loads(after)(3) == 30


def test_changing_a_closure_value_changes_the_bytes():
    factor = 2

    def f(x):
        return x * factor

    before = serialization.dumps_function(f)
    factor = 5
    after = serialization.dumps_function(f)
    assert serialization.loads(before)(2) == 4
    assert serialization.loads(after)(2) == 10


def test_different_functions_do_not_share_cache_entries():
    f, _ = dynamic_function("def f():\n    return 1\n", "f")
    g, _ = dynamic_function("def f():\n    return 2\n", "f")
    assert serialization.loads(serialization.dumps_function(f))() == 1
    assert serialization.loads(serialization.dumps_function(g))() == 2


# --- error paths ------------------------------------------------------------------------------
def test_nested_socket_in_attribute_in_list(sock):
    with pytest.raises(PicklingFailure) as info:
        serialization.dumps_labelled([1, Holder(sock)], "argument 2")
    assert str(info.value) == (
        "argument 2 -> item 1 -> attribute .conn -> socket object: cannot pickle 'socket' object"
    )
    assert info.value.path == "argument 2 -> item 1 -> attribute .conn"


def test_socket_as_object_attribute(sock):
    with pytest.raises(PicklingFailure) as info:
        serialization.dumps_labelled(Holder(sock), "argument 2")
    assert str(info.value) == (
        "argument 2 -> attribute .conn -> socket object: cannot pickle 'socket' object"
    )


@pytest.mark.parametrize(
    ("make", "path"),
    [
        (lambda s: {"key": s}, "argument 1 -> value of key 'key' -> socket object"),
        (lambda s: (0, (1, s)), "argument 1 -> item 1 -> item 1 -> socket object"),
        (lambda s: Slotted(s), "argument 1 -> attribute .conn -> socket object"),
        (lambda s: {s}, "argument 1 -> set member -> socket object"),
    ],
    ids=["dict", "nested-tuple", "slots", "set"],
)
def test_error_paths(sock, make, path):
    with pytest.raises(PicklingFailure) as info:
        serialization.dumps_labelled(make(sock), "argument 1")
    assert str(info.value).startswith(path)


def test_unpicklable_closure_names_the_variable(sock):
    def uses_socket():
        return sock.fileno()

    with pytest.raises(PicklingFailure) as info:
        serialization.dumps_function(uses_socket)
    message = str(info.value)
    assert message.startswith("function ")
    assert "uses_socket" in message
    assert "closure variable sock -> socket object: cannot pickle 'socket' object" in message


def test_no_debug_mode_names_the_label_only(sock):
    with pytest.raises(PicklingFailure) as info:
        serialization.dumps_labelled([Holder(sock)], "argument 1", NO_DEBUG)
    assert str(info.value).startswith("argument 1: ")
    assert "attribute" not in str(info.value)


def test_pickling_failure_is_a_pickling_error(sock):
    with pytest.raises(pickle.PicklingError):
        serialization.dumps_labelled(sock, "argument 1")


def test_a_failed_dump_does_not_poison_the_next(sock):
    with pytest.raises(Exception):  # noqa: B017 - whatever the pickler raises
        serialization.dumps([1, sock])
    assert serialization.loads(serialization.dumps([1, 2])) == [1, 2]
