"""``python bench/run.py [options]``: the same as ``python -m bench`` from the repository root."""

from __future__ import annotations

import os
import runpy
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # Run bench/__main__.py as __main__, so B6's function is a __main__ function here too.
    runpy.run_module("bench", run_name="__main__", alter_sys=True)
