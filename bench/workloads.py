"""The functions every system runs. Module-level, so ``multiprocessing`` can pickle them by
reference and cloudpickle ships them by reference too (``bench`` is importable in workers)."""

from __future__ import annotations


def square(x: int) -> int:
    """The trivial job of B1, B2 and B3."""
    return x * x
