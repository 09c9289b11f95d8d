"""The functions every system runs. Module-level, so ``multiprocessing`` can pickle them by
reference and cloudpickle ships them by reference too (``bench`` is importable in workers)."""

from __future__ import annotations

import time


def square(x: int) -> int:
    """The trivial job of B1, B2, B3 and B7."""
    return x * x


def sleep_1ms(x: int) -> int:
    """B4's 1 ms job."""
    time.sleep(0.001)
    return x


def sleep_10ms(x: int) -> int:
    """B4's 10 ms job."""
    time.sleep(0.01)
    return x


def sleep_100ms(x: int) -> int:
    """B4's 100 ms job."""
    time.sleep(0.1)
    return x


#: B4's jobs by their length in ms
SLEEPS = {1: sleep_1ms, 10: sleep_10ms, 100: sleep_100ms}


def length(payload: str) -> int:
    """B5, payload as argument: what came in."""
    return len(payload)


def text_of(size: int) -> str:
    """B5, payload as result: ``size`` characters."""
    return "x" * size


#: every function a peer that ships names, not code (Celery, RQ), must know
ALL = [square, sleep_1ms, sleep_10ms, sleep_100ms, length, text_of]
