"""B6's project: a package of 20 modules of the user's own (each importing the next, one with
a relative import, one imported inside the function), written into a temporary folder that
only this process has on sys.path, so picloud ships them with the jobs."""

from __future__ import annotations

import contextlib
import importlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

MODULES = 20


@contextlib.contextmanager
def project_function() -> Iterator[Callable[[int], int]]:
    """``work(x)`` of a fresh 20-module project, importable while the context lasts."""
    with tempfile.TemporaryDirectory(prefix="picloud-bench-project-") as folder:
        root = Path(folder) / "benchproj"
        root.mkdir()
        (root / "__init__.py").write_text("from .m00 import step\n")
        for i in range(MODULES - 2):
            following = f"from .m{i + 1:02d} import step as after\n" if i < MODULES - 3 else ""
            body = "after(x) + 1" if following else "x + 1"
            (root / f"m{i:02d}.py").write_text(f"{following}\ndef step(x):\n    return {body}\n")
        (root / "api.py").write_text(
            "from benchproj import step\n\n"
            "def work(x):\n"
            "    from benchproj import m00  # an import inside the function\n"
            "    return step(x) - m00.step(0) + x * x + 1\n"
        )
        sys.path.insert(0, folder)
        try:
            yield importlib.import_module("benchproj.api").work
        finally:
            sys.path.remove(folder)
            for name in [m for m in sys.modules if m.split(".")[0] == "benchproj"]:
                del sys.modules[name]
