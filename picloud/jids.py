"""Job ids as users pass them: an int, a map's range, or any iterable mixing both."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from picloud.exceptions import InvalidJidError


def flatten_jids(value: Any, what: str = "jid(s)") -> Sequence[int]:
    """Return the jids in ``value`` in order (a range stays a range); raise InvalidJidError."""
    if isinstance(value, range):
        return value
    if _is_jid(value):
        return [value]
    if isinstance(value, (str, bytes, bytearray)) or not hasattr(value, "__iter__"):
        raise InvalidJidError(f"{what} must be integers, got {value!r}")
    out: list[int] = []
    for item in value:
        if _is_jid(item):
            out.append(item)
        elif isinstance(item, range):
            out.extend(item)
        else:
            raise InvalidJidError(
                f"{what} must be integers, got {item!r} in {type(value).__name__}"
            )
    return out


def is_single(value: Any) -> bool:
    """True when ``value`` names one job (so the answer is a value, not a list)."""
    return _is_jid(value)


def _is_jid(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def describe_jids(jids: Sequence[int], limit: int = 10) -> str:
    """``'3, 4, 5'``, shortened to the first ``limit`` with a count of the rest."""
    shown = ", ".join(map(str, jids[:limit]))
    rest = len(jids) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


class Submitted:
    """The jids one client submitted, in as few ranges as they allow: what ``kill()`` with no
    jids kills (never another client's jobs of the same key)."""

    def __init__(self) -> None:
        self.ranges: list[range] = []

    def add(self, jids: range) -> None:
        if self.ranges and self.ranges[-1].stop == jids.start:
            self.ranges[-1] = range(self.ranges[-1].start, jids.stop)
        else:
            self.ranges.append(jids)
