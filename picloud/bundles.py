"""Bundles: a job's own modules (a picloud.dependencies manifest) imported on a worker.

A Bundle is a ``sys.meta_path`` finder and loader serving the modules of one manifest from
sources fetched by digest (each checked against its sha256). It is installed for one job
(``with Bundle(manifest, fetch, key): ...``) and removed after it. Modules it loaded stay in
``sys.modules`` for the next job of the same key, as long as that job's manifest names the same
versions; installing drops, first, every module loaded for another key, and, when one of the
manifest's modules is loaded in another version (or not from a bundle), every module loaded
for this key too, with the submodules of what it drops. So a job sees only its own key's
modules, in the versions its client sent. A job without a manifest should still install an
empty one (``Bundle({}, fetch, key)``): that is what drops other keys' modules.

``cannot_travel_message`` turns a ModuleNotFoundError for a module the client listed as unable
to travel into what to install where."""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import types
from collections.abc import Callable
from typing import Any

#: Where the pseudo paths of bundled modules start (``__file__``, tracebacks); nothing is there.
BUNDLE_ROOT = "/picloud-bundle"
#: (key, digest) of each module this process loaded from a bundle, by module name.
_loaded: dict[str, tuple[str, str]] = {}


class Bundle(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The modules of one manifest, for the jobs of api key ``key``; ``fetch(digest)`` returns
    the bytes of a source file."""

    def __init__(self, manifest: dict[str, Any], fetch: Callable[[str], bytes], key: str) -> None:
        self.modules: dict[str, dict[str, Any]] = manifest.get("modules", {})
        self.key = str(key)
        self._fetch = fetch
        self._root = os.path.join(BUNDLE_ROOT, re.sub(r"[^\w.-]", "_", self.key))
        self._sources: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<picloud bundle of key {self.key}: {len(self.modules)} module(s)>"

    # --- installing -----------------------------------------------------------------------------
    def install(self) -> None:
        """Drop stale modules from ``sys.modules``, then serve this bundle's modules first."""
        _forget(self._stale())
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def uninstall(self) -> None:
        """Stop serving imports (modules already loaded stay for the next job of this key)."""
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def __enter__(self) -> Bundle:
        self.install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def _stale(self) -> set[str]:
        """Modules to drop: other keys' and, if one of this bundle's modules is loaded in
        another version or not from a bundle, every module loaded for this key and those."""
        wanted = {name: (self.key, entry["digest"]) for name, entry in self.modules.items()}
        stale = {name for name, (key, _) in _loaded.items() if key != self.key}
        changed = {
            name
            for name, version in wanted.items()
            if name in sys.modules and _loaded.get(name) != version
        }
        if changed:
            stale |= changed | set(_loaded)
        return stale

    # --- finding and loading --------------------------------------------------------------------
    def find_spec(
        self, fullname: str, path: Any = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        entry = self.modules.get(fullname)
        if entry is None:
            return None
        origin = self.pseudo_path(fullname)
        spec = importlib.machinery.ModuleSpec(fullname, self, origin=origin)
        spec.has_location = True  # so the module gets __file__
        if entry["package"]:
            spec.submodule_search_locations = [os.path.dirname(origin)]
        return spec

    def pseudo_path(self, fullname: str) -> str:
        """The module's ``__file__``: under BUNDLE_ROOT/<key>, laid out as on the client."""
        parts = fullname.split(".")
        if self.modules[fullname]["package"]:
            return os.path.join(self._root, *parts, "__init__.py")
        return os.path.join(self._root, *parts[:-1], parts[-1] + ".py")

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__
        code = compile(self.get_source(name), self.pseudo_path(name), "exec", dont_inherit=True)
        _loaded[name] = (self.key, self.modules[name]["digest"])
        exec(code, module.__dict__)

    def is_package(self, fullname: str) -> bool:
        return bool(self._entry(fullname)["package"])

    def get_source(self, fullname: str) -> str:
        """The module's source text (also what tracebacks show, through linecache). Raises
        ImportError if the fetched bytes do not match the manifest's digest."""
        digest = self._entry(fullname)["digest"]
        text = self._sources.get(digest)
        if text is None:
            data = self._fetch(digest)
            if hashlib.sha256(data).hexdigest() != digest:
                raise ImportError(
                    f"the source fetched for module {fullname!r} does not match its digest "
                    f"{digest}: refused",
                    name=fullname,
                )
            text = self._sources[digest] = importlib.util.decode_source(data)
        return text

    def _entry(self, fullname: str) -> dict[str, Any]:
        entry = self.modules.get(fullname)
        if entry is None:
            raise ImportError(f"module {fullname!r} is not in {self!r}", name=fullname)
        return entry


def _forget(names: set[str]) -> None:
    """Drop ``names`` and their submodules from ``sys.modules`` (and from their parents'
    attributes, so ``from package import module`` imports afresh)."""
    if not names:
        return
    for name in [n for n in sys.modules if _under(n, names)]:
        module = sys.modules.pop(name, None)
        _loaded.pop(name, None)
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name)
        if parent is not None and module is not None and getattr(parent, child, None) is module:
            delattr(parent, child)
    for name in names:
        _loaded.pop(name, None)


def _under(name: str, names: set[str]) -> bool:
    """True if ``name`` or one of its parent packages is in ``names``."""
    while name:
        if name in names:
            return True
        name = name.rpartition(".")[0]
    return False


def cannot_travel_message(
    error: ModuleNotFoundError, manifest: dict[str, Any], pool: str
) -> str | None:
    """What to install where, when ``error`` is about a module (or a submodule of one) that
    the manifest lists as unable to travel; None otherwise."""
    cannot = manifest.get("cannot_travel", {})
    name = error.name or ""
    while name and name not in cannot:
        name = name.rpartition(".")[0]
    if not name:
        return None
    item = cannot[name]
    if item["kind"] == "extension":
        return (
            f"module {name!r} is a compiled extension ({item['file']}) on the client and cannot "
            f"travel with a job: install it on the workers of pool {pool}"
        )
    requirement = item.get("requirement")
    if requirement:
        return (
            f"module {name!r} comes from the distribution {requirement} on the client, which "
            f"the workers of pool {pool} do not have: pip install {requirement} on them"
        )
    return (
        f"module {name!r} is installed on the client (not a file of your project), and the "
        f"workers of pool {pool} do not have it: install it on them"
    )


def explain_missing(traceback_text: str, manifest: dict[str, Any] | None, pool: str) -> str | None:
    """For a job that failed with ModuleNotFoundError (its traceback text): what to install
    where; None for any other failure. ``manifest`` is None when no modules travelled."""
    found = re.search(r"ModuleNotFoundError: No module named '([^']+)'", traceback_text)
    if found is None:
        return None
    name = found.group(1)
    told = cannot_travel_message(ModuleNotFoundError(name=name), manifest or {}, pool)
    if told is not None:
        return told
    if manifest is None:
        why = "and automatic_dependency_transfer is off, so your own modules do not travel"
    else:
        why = "and it is not a file of your project that travels with jobs"
    return (
        f"module {name!r} is not installed on the workers of pool {pool}, {why}: install it there"
    )
