"""Turning functions, arguments and results into bytes and back (cloudpickle, or pickle).

Functions are pickled once per function object and reused while the globals and closure values
they refer to are the same objects. When something cannot be pickled, the error names the object
and the path to it: ``argument 2 -> attribute .conn -> socket object: cannot pickle 'socket'``.
"""

from __future__ import annotations

import io
import pickle
import threading
import types
import weakref
from collections import ChainMap
from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle

from picloud.exceptions import PicklingFailure

PROTOCOL = 5
#: ``_fast_serialization`` values: 0 = debug info on failure, 1 = no debug info, 2 = plain pickle.
DEBUG, NO_DEBUG, PLAIN = 0, 1, 2
#: Scalars that pickle identically with pickle and cloudpickle (the fast path).
PLAIN_SCALARS = frozenset({int, float, str, bytes, bool, type(None), complex})

loads = pickle.loads
#: The only classes plain data may name: types pickle has no opcode of its own for.
_PLAIN_CLASSES = {("builtins", n) for n in ("bytearray", "set", "frozenset", "complex")}


class NotPlainData(Exception):
    """A pickle that names a class or reference: opening it could run code."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _PlainUnpickler(pickle.Unpickler):
    """Builds str, bytes, numbers, None, bools, lists, tuples, dicts, sets; nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PLAIN_CLASSES:
            return super().find_class(module, name)
        raise NotPlainData(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise NotPlainData("a persistent reference")


def plain_loads(blob: bytes) -> Any:
    """Unpickle ``blob`` only if it is plain data, so that no code can run: for pickles from
    someone untrusted (results on the web server, chunk payloads in a job's supervisor).
    Raises NotPlainData naming the class, or what pickle raises for a broken pickle."""
    return _PlainUnpickler(io.BytesIO(blob)).load()


def _keep_filename(code: types.CodeType) -> tuple[Any, tuple[Any, ...]]:
    rebuild, args = cloudpickle.cloudpickle._code_reduce(code)
    return rebuild, tuple(code.co_filename if a == "<dynamic-code>" else a for a in args)


class _Pickler(cloudpickle.Pickler):
    """cloudpickle, but code objects keep their file name, so remote tracebacks name the
    user's file instead of ``<dynamic-code>``."""

    dispatch_table = ChainMap({types.CodeType: _keep_filename}, cloudpickle.Pickler.dispatch_table)


class _ReusablePickler(threading.local):
    """One cloudpickle Pickler per thread, reused: 0.5 µs a call instead of 3 µs."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.pickler = _Pickler(self.buffer, protocol=PROTOCOL)

    def dumps(self, obj: Any) -> bytes:
        buffer, pickler = self.buffer, self.pickler
        buffer.seek(0)
        buffer.truncate()
        pickler.clear_memo()
        try:
            pickler.dump(obj)
        except BaseException:
            self.__init__()  # a failed dump can leave the pickler's state half-written
            raise
        return buffer.getvalue()


_reusable = _ReusablePickler()


def dumps(obj: Any, mode: int = DEBUG) -> bytes:
    """Serialize an argument tuple or a result. Raises whatever the pickler raises."""
    if mode == PLAIN or type(obj) in PLAIN_SCALARS:
        return pickle.dumps(obj, PROTOCOL)
    return _reusable.dumps(obj)


def dumps_labelled(obj: Any, label: str, mode: int = DEBUG) -> bytes:
    """``dumps`` that raises PicklingFailure naming ``label`` and, unless mode is NO_DEBUG or
    PLAIN, the path to the object that failed."""
    try:
        return dumps(obj, mode)
    except Exception as exc:
        if mode != DEBUG:
            raise PicklingFailure(f"{label}: {_reason(exc)}", label) from exc
        path, culprit, reason = find_unpicklable(obj, lambda o: dumps(o, mode), exc)
        where = " -> ".join([label, *path])
        message = f"{where} -> {type(culprit).__name__} object: {reason}"
        raise PicklingFailure(message, where) from exc


_function_cache: weakref.WeakKeyDictionary[Any, tuple[tuple[int, ...], bytes]] = (
    weakref.WeakKeyDictionary()
)
_function_cache_lock = threading.Lock()


def dumps_function(func: Callable[..., Any]) -> bytes:
    """cloudpickle ``func``, reusing the bytes made for the same function object while every
    global, closure value and default it refers to is still the same object."""
    if not isinstance(func, types.FunctionType):
        return dumps_labelled(func, f"function {_name(func)}", DEBUG)
    stamp = _fingerprint(func)
    with _function_cache_lock:
        cached = _function_cache.get(func)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    blob = dumps_labelled(func, f"function {_name(func)}", DEBUG)
    with _function_cache_lock:
        _function_cache[func] = (stamp, blob)
    return blob


def _fingerprint(func: types.FunctionType) -> tuple[int, ...]:
    """ids of what a pickled function copies by value; a rebound global changes it."""
    names = func.__code__.co_names
    module_globals = func.__globals__
    ids = [id(module_globals.get(n)) for n in names]
    if func.__closure__:
        ids.extend(id(_cell_value(c)) for c in func.__closure__)
    ids.append(id(func.__defaults__))
    ids.append(id(func.__kwdefaults__))
    return tuple(ids)


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _name(func: Any) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)


def function_name(func: Any) -> str:
    """The name PiCloud shows for a job's function: ``module.qualname``."""
    module = getattr(func, "__module__", None) or ""
    name = _name(func)
    return f"{module}.{name}" if module else name


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def find_unpicklable(
    obj: Any, try_dumps: Callable[[Any], bytes], exc: BaseException, depth: int = 0
) -> tuple[list[str], Any, str]:
    """Walk into ``obj`` to the innermost part that still fails to pickle.

    Returns (path segments, that object, the pickler's message for it)."""
    if depth < 20:
        for label, child in _children(obj):
            if child is obj:
                continue
            try:
                try_dumps(child)
            except Exception as child_exc:
                path, culprit, reason = find_unpicklable(child, try_dumps, child_exc, depth + 1)
                return [label, *path], culprit, reason
    return [], obj, _reason(exc)


def _children(obj: Any) -> Iterator[tuple[str, Any]]:
    """The parts a pickler would visit, each with a label for the error path."""
    if isinstance(obj, (list, tuple)):
        yield from ((f"item {i}", v) for i, v in enumerate(obj))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield f"key {key!r}", key
            yield f"value of key {key!r}", value
    elif isinstance(obj, (set, frozenset)):
        yield from (("set member", v) for v in obj)
    elif isinstance(obj, types.FunctionType):
        yield from _function_children(obj)
    elif isinstance(obj, types.MethodType):
        yield "bound object", obj.__self__
    else:
        yield from _attribute_children(obj)


def _function_children(func: types.FunctionType) -> Iterator[tuple[str, Any]]:
    code = func.__code__
    for name, cell in zip(code.co_freevars, func.__closure__ or ()):
        yield f"closure variable {name}", _cell_value(cell)
    for name in code.co_names:
        if name in func.__globals__:
            yield f"global {name}", func.__globals__[name]
    for i, value in enumerate(func.__defaults__ or ()):
        yield f"default {i}", value


def _attribute_children(obj: Any) -> Iterator[tuple[str, Any]]:
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict):
        yield from ((f"attribute .{k}", v) for k, v in state.items())
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if isinstance(slot, str) and hasattr(obj, slot):
                yield f"attribute .{slot}", getattr(obj, slot)
