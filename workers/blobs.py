"""Content-addressed blobs a pool process has already read and checked (a job's function, a
bundle's manifest), kept so that the next chunk of the same function does not read them from
Redis again. A blob is named by its digest, so a kept one is the one any message naming that
digest would read."""

from __future__ import annotations

from collections import OrderedDict

#: Bytes kept at most, and the largest blob kept.
BUDGET_BYTES = 32 << 20
LARGEST_BYTES = 4 << 20


class Blobs:
    """A least-recently-used store of checked blobs, bounded in bytes."""

    def __init__(self, budget: int = BUDGET_BYTES, largest: int = LARGEST_BYTES) -> None:
        self._budget = budget
        self._largest = largest
        self._kept: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def get(self, name: str) -> bytes | None:
        blob = self._kept.get(name)
        if blob is not None:
            self._kept.move_to_end(name)
        return blob

    def keep(self, name: str, blob: bytes) -> None:
        """Keep ``blob`` (checked against its digest in ``name`` by the caller)."""
        if len(blob) > self._largest or name in self._kept:
            return
        self._kept[name] = blob
        self._size += len(blob)
        while self._size > self._budget:
            _, dropped = self._kept.popitem(last=False)
            self._size -= len(dropped)


#: this process's store
checked = Blobs()
