"""``project``: a multi-module project of the user's, written into a tmp dir on sys.path."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest


class Project:
    """Files of a project under ``root``; ``import`` finds them while it is on sys.path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, files: dict[str, str]) -> None:
        """Write (or overwrite) files given by path relative to the root; a rewritten file
        gets a later mtime, as an edit would."""
        for relative, text in files.items():
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            before = path.stat().st_mtime_ns if path.exists() else None
            path.write_text(textwrap.dedent(text))
            if before is not None:
                os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))
        importlib.invalidate_caches()

    def read(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()

    def forget(self) -> None:
        """Leave the project as a worker would not have it: off sys.path, out of sys.modules."""
        root = str(self.root)
        while root in sys.path:
            sys.path.remove(root)
        for name, module in list(sys.modules.items()):
            if (getattr(module, "__file__", None) or "").startswith(root + os.sep):
                del sys.modules[name]
            elif name.partition(".")[0] in _namespace_roots(self.root):
                del sys.modules[name]
        importlib.invalidate_caches()


def _namespace_roots(root: Path) -> set[str]:
    """Top-level directories of the project without __init__.py (namespace packages)."""
    return {p.name for p in root.iterdir() if p.is_dir() and not (p / "__init__.py").exists()}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    made = Project(root)
    yield made
    made.forget()
