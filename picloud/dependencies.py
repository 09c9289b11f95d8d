"""Dependency discovery: the modules of the user's own project that a job needs, as a manifest.

A job needs the modules its pickles name (cloudpickle pickles the functions and classes of
importable modules by reference, and modules by name), the modules a function pickled by value
imports in its code, and, transitively, what those modules import (read from their source with
``ast``: relative imports, imports inside functions, ``importlib.import_module("literal")``, and
every parent package). Of these, only the user's own files travel: not the standard library,
not what sits under a site directory or comes from an installed distribution, not picloud,
``cloud``, ``workers`` or cloudpickle.

The manifest is plain JSON::

    {"modules": {"pkg.sub": {"path": "/home/u/proj/pkg/sub/__init__.py",  # on the client
                             "package": true,
                             "digest": "<sha256 hex of the file's bytes>"}, ...},
     "cannot_travel": {"fastthing": {"kind": "extension",
                                     "file": "fastthing.cpython-311-x86_64-linux-gnu.so"},
                       "yaml": {"kind": "distribution", "requirement": "PyYAML==6.0.1"}}}

A namespace package travels as an empty package (the digest of no bytes). ``cannot_travel``
names compiled modules of the project (by full name) and the top-level modules of installed
distributions that were reached (``requirement`` is None when no distribution metadata names
the module), so that a worker missing one can say what to install where (picloud.bundles).

Costs: the first call for a function reads and parses its modules; later calls stat the files
of its manifest and return the same (unchanged) manifest object; an edited file gets a new
digest. Only file edits are noticed, not new files that would change how a name resolves."""

from __future__ import annotations

import ast
import dis
import functools
import hashlib
import importlib.machinery
import importlib.metadata
import importlib.util
import io
import os
import pickle
import site
import sys
import sysconfig
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import cloudpickle

Manifest = dict[str, Any]
#: Most functions (pickled) and root sets whose analysis is kept; the caches restart beyond it.
CACHE_SIZE = 512
_EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()
_STACK_GLOBAL = b"\x93"[0]


class _File(NamedTuple):
    """What one version of a source file gave: its stat stamp, digest and raw imports."""

    size: int
    mtime_ns: int
    digest: str
    imports: tuple[tuple[int, str, tuple[str, ...]], ...]


class DependencyFinder:
    """Finds manifests, caching per pickled function, per set of root modules and per file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._roots: dict[bytes, frozenset[str]] = {}  # by the pickled function's sha256
        self._closures: dict[frozenset[str], tuple[Manifest, tuple[tuple[str, int, int], ...]]] = {}
        self._files: dict[str, _File] = {}
        self._sources: dict[str, bytes] = {_EMPTY_DIGEST: b""}

    def manifest(
        self, func: Callable[..., Any], func_blob: bytes, args_blobs: Sequence[bytes]
    ) -> Manifest:
        """The manifest of a job (or a map) running ``func``, pickled as ``func_blob``, on the
        pickled arguments ``args_blobs``. Do not modify it: later calls may return it again."""
        with self._lock:
            func_digest = hashlib.sha256(func_blob).digest()
            roots = self._roots.get(func_digest)
            if roots is None:
                roots = frozenset(_pickled_modules(func_blob) | _code_imports(func))
                _remember(self._roots, func_digest, roots)
            extra = {
                m for blob in args_blobs if _STACK_GLOBAL in blob for m in _pickled_modules(blob)
            }
            key = roots | extra if extra else roots
            cached = self._closures.get(key)
            if cached is not None and _unchanged(cached[1]):
                return cached[0]
            found = self._closure(key)
            _remember(self._closures, key, found)
            return found[0]

    def source(self, digest: str) -> bytes:
        """The bytes of a file version a manifest named (every version read is kept)."""
        return self._sources[digest]

    # --- the walk ---------------------------------------------------------------------------
    def _closure(self, roots: frozenset[str]) -> tuple[Manifest, tuple[tuple[str, int, int], ...]]:
        modules: dict[str, Any] = {}
        cannot: dict[str, Any] = {}
        stamps: list[tuple[str, int, int]] = []
        todo, seen = sorted(roots), set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if "." in name:
                todo.append(name.rpartition(".")[0])
            spec = _find_spec(name)
            kind = _kind(name, spec) if spec is not None else None
            if kind == "source":
                todo.extend(self._add_source(name, spec, modules, stamps))  # type: ignore[arg-type]
            elif kind == "namespace":
                location = next(iter(spec.submodule_search_locations))  # type: ignore[union-attr]
                modules[name] = {"path": location, "package": True, "digest": _EMPTY_DIGEST}
            elif kind is not None:
                cannot.update([_cannot_travel(name, spec, kind)])  # type: ignore[arg-type]
        manifest = {"modules": dict(sorted(modules.items())), "cannot_travel": cannot}
        return manifest, tuple(stamps)

    def _add_source(
        self,
        name: str,
        spec: importlib.machinery.ModuleSpec,
        modules: dict[str, Any],
        stamps: list[tuple[str, int, int]],
    ) -> list[str]:
        """Add a module of the project's to ``modules``; return the names it imports."""
        path = os.path.abspath(str(spec.origin))
        parsed = self._read(path)
        if parsed is None:
            return []
        package = spec.submodule_search_locations is not None
        stamps.append((path, parsed.size, parsed.mtime_ns))
        modules[name] = {"path": path, "package": package, "digest": parsed.digest}
        base = name if package else name.rpartition(".")[0]
        return [n for item in parsed.imports for n in _absolute(*item, base)]

    def _read(self, path: str) -> _File | None:
        """The file's digest and imports, read again only when its size or mtime changed."""
        try:
            stat = os.stat(path)
            known = self._files.get(path)
            if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
                return known
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        digest = hashlib.sha256(data).hexdigest()
        self._sources[digest] = data
        parsed = _File(stat.st_size, stat.st_mtime_ns, digest, tuple(_source_imports(data)))
        self._files[path] = parsed
        return parsed


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= CACHE_SIZE:
        cache.clear()
    cache[key] = value


def _unchanged(stamps: tuple[tuple[str, int, int], ...]) -> bool:
    """True if every file still has the size and mtime it had (the fast path: stats only)."""
    stat = os.stat
    try:
        for path, size, mtime_ns in stamps:
            now = stat(path)
            if now.st_size != size or now.st_mtime_ns != mtime_ns:
                return False
    except OSError:
        return False
    return True


# --- module names in pickles ------------------------------------------------------------------
class _StubMeta(type):
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls

    def __setitem__(cls, key: Any, value: Any) -> None:
        pass


class _Stub(metaclass=_StubMeta):
    """Stands for every object a scanned pickle builds, so that no code of it runs."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # NEWOBJ calls it directly
        return cls

    __setstate__ = append = extend = add = staticmethod(lambda *args: None)


class _ModuleScanner(pickle.Unpickler):
    """Loads a pickle with stubs in place of its globals, noting the modules it names."""

    def __init__(self, blob: bytes) -> None:
        super().__init__(io.BytesIO(blob))
        self.modules: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.modules.add(module)
        if name == "subimport" and module.startswith("cloudpickle"):
            return self._subimport
        return _Stub

    def _subimport(self, name: Any) -> Any:
        if isinstance(name, str):
            self.modules.add(name)
        return _Stub


def _pickled_modules(blob: bytes) -> set[str]:
    """Modules a pickle refers to by name (its classes' and functions', and subimports)."""
    scanner = _ModuleScanner(blob)
    try:
        scanner.load()
    except Exception:  # a pickle the stubs cannot rebuild: what was seen before still counts
        pass
    return scanner.modules


# --- module names in code ---------------------------------------------------------------------
def _code_imports(func: Any) -> set[str]:
    """Modules imported in the code of ``func`` and of the functions and classes of its module
    it reaches through globals and closures (what cloudpickle copies by value)."""
    names: set[str] = set()
    todo, seen = [func], set()
    while todo:
        current = todo.pop()
        current = getattr(current, "__func__", current)  # methods, staticmethods, classmethods
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, type):
            todo.extend(vars(current).values())
        elif isinstance(current, types.FunctionType):
            names |= _function_imports(current, todo)
    return names


def _function_imports(func: types.FunctionType, todo: list[Any]) -> set[str]:
    """What the code of ``func`` imports; adds what it reaches of its own module to ``todo``."""
    names: set[str] = set()
    module_globals = func.__globals__
    base = module_globals.get("__package__") or ""
    for code in _code_objects(func.__code__):
        for item in _code_import_items(code):
            names.update(_absolute(*item, base))
        for global_name in code.co_names:
            value = module_globals.get(global_name)
            if getattr(value, "__module__", None) == func.__module__:
                todo.append(value)
    for cell in func.__closure__ or ():
        try:
            todo.append(cell.cell_contents)
        except ValueError:  # an empty cell
            pass
    return names


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


#: Opcodes that push the level and fromlist of an import (LOAD_SMALL_INT: Python 3.14).
_CONST_LOADS = frozenset({"LOAD_CONST", "LOAD_SMALL_INT"})


def _code_import_items(code: types.CodeType) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(level, module, fromlist) of each IMPORT_NAME, read from the two constants before it."""
    consts: list[Any] = []
    for instruction in dis.get_instructions(code):
        opname = instruction.opname
        if opname in _CONST_LOADS:
            consts = [*consts[-1:], instruction.argval]
        elif opname == "IMPORT_NAME" and len(consts) == 2 and isinstance(consts[0], int):
            yield consts[0], instruction.argval, tuple(consts[1] or ())
            consts = []
        elif opname != "EXTENDED_ARG":
            consts = []


def _source_imports(source: bytes) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(level, module, names) of every import statement and literal dynamic import."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((0, alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", tuple(alias.name for alias in node.names)
        elif isinstance(node, ast.Call) and _literal_import(node):
            yield 0, node.args[0].value, ()  # type: ignore[attr-defined]


def _literal_import(node: ast.Call) -> bool:
    """``importlib.import_module("x")``, ``import_module("x")`` or ``__import__("x")``."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return (
        called in ("import_module", "__import__")
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def _absolute(level: int, module: str, names: tuple[str, ...], base: str) -> list[str]:
    """The absolute names an import may load: the module and each imported name under it
    (which may be a submodule). ``base`` is the package that relative imports start from."""
    if level:
        parts = base.split(".") if base else []
        if level - 1 >= len(parts):
            return []
        anchor = ".".join(parts[: len(parts) - level + 1])
        module = f"{anchor}.{module}" if module else anchor
    if not module:
        return []
    return [module, *(f"{module}.{n}" for n in names if n != "*")]


# --- where a module comes from ----------------------------------------------------------------
def _find_spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """The spec of ``name`` without importing it (nor its parents) when it is not loaded."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return getattr(loaded, "__spec__", None)
    parent, _, _ = name.rpartition(".")
    try:
        if not parent:
            return importlib.util.find_spec(name)
        parent_spec = _find_spec(parent)
        locations = parent_spec and parent_spec.submodule_search_locations
        if not locations:
            return None
        return importlib.machinery.PathFinder.find_spec(name, list(locations))
    except (ImportError, ValueError):
        return None


def _kind(name: str, spec: importlib.machinery.ModuleSpec) -> str | None:
    """'source', 'namespace' or 'extension' (the project's), 'distribution' (installed), or
    None (built in, the standard library, picloud's own or __main__)."""
    if name.partition(".")[0] in ("__main__", "__mp_main__"):
        return None
    if spec.origin in (None, "namespace") and spec.submodule_search_locations is not None:
        places = {_place(p) for p in spec.submodule_search_locations}
        return "namespace" if places == {"project"} else None
    if not spec.has_location or not spec.origin:
        return None
    place = _place(spec.origin)
    if place == "site" or (place == "project" and _requirement_of(name, spec)):
        return "distribution"
    if place != "project":
        return None
    source = isinstance(spec.loader, importlib.machinery.SourceFileLoader)
    return "source" if source else "extension"


def _cannot_travel(
    name: str, spec: importlib.machinery.ModuleSpec, kind: str
) -> tuple[str, dict[str, Any]]:
    """The ``cannot_travel`` item of a compiled module (by name) or an installed one (by its
    top-level name)."""
    if kind == "extension":
        return name, {"kind": "extension", "file": os.path.basename(str(spec.origin))}
    requirement = _requirement_of(name, spec)
    return name.partition(".")[0], {"kind": "distribution", "requirement": requirement}


@functools.cache
def _place(path: str) -> str:
    """'own' (picloud, cloud, workers, cloudpickle), 'site', 'stdlib' or 'project'."""
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    if any(_within(real, d) for d in _own_dirs()):
        return "own"
    if "site-packages" in parts or "dist-packages" in parts:
        return "site"
    if any(_within(real, d) for d in _site_dirs()):
        return "site"
    if any(_within(real, d) for d in _stdlib_dirs()):
        return "stdlib"
    return "project"


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory + os.sep)


@functools.cache
def _own_dirs() -> tuple[str, ...]:
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    own = [os.path.join(root, name) for name in ("picloud", "cloud", "workers")]
    return (*own, os.path.dirname(os.path.realpath(cloudpickle.__file__)))


@functools.cache
def _site_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = [paths["purelib"], paths["platlib"], *site.getsitepackages()]
    dirs.append(site.getusersitepackages())
    return tuple(dict.fromkeys(os.path.realpath(d) for d in dirs))


@functools.cache
def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(dict.fromkeys(os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib")))


def _requirement_of(name: str, spec: importlib.machinery.ModuleSpec) -> str | None:
    """'Name==version' of the wheel-installed distribution that provides the top-level module
    of ``name`` in the directory it was found in, if any."""
    entry = os.path.realpath(str(spec.origin))
    for _ in range(name.count(".") + 1 + (spec.submodule_search_locations is not None)):
        entry = os.path.dirname(entry)
    return _requirement(name.partition(".")[0], entry)


@functools.cache
def _requirement(top: str, entry: str) -> str | None:
    for candidates in (
        importlib.metadata.distributions(name=top, path=[entry]),
        importlib.metadata.distributions(path=[entry]),
    ):
        for dist in candidates:
            if dist.read_text("WHEEL") is not None and _provides(dist, top):
                return f"{dist.metadata['Name']}=={dist.version}"
    return None


def _provides(dist: importlib.metadata.Distribution, top: str) -> bool:
    tops = (dist.read_text("top_level.txt") or "").split()
    if tops:
        return top in tops
    return any(f.parts[0] in (top, f"{top}.py") for f in dist.files or ())


_finder = DependencyFinder()
#: The manifest of a job: see DependencyFinder.manifest.
manifest = _finder.manifest
#: The bytes of a file a manifest named, by digest.
source = _finder.source
