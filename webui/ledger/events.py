"""Entries of the job ledger stream (``pc:events``): a status, jid ranges, a time."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

log = logging.getLogger("picloud.recorder")

#: The status of the event the delete script writes: the job's hash is gone.
DELETED = "deleted"
_DELETED = DELETED.encode()


def parse_ranges(text: str) -> Iterator[int]:
    """The jids of ``"1-5,9,12-14"``, in order (ValueError on a malformed part)."""
    for part in text.split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if dash:
            yield from range(int(first), int(last) + 1)
        else:
            yield int(first)


@dataclass
class Changes:
    """What a batch of stream entries says: jids whose rows to refresh, jids to delete."""

    ids: list[bytes] = field(default_factory=list)
    #: jids to read from Redis and upsert, in first-seen order (a dict as an ordered set)
    changed: dict[int, None] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    #: the oldest event time in the batch (unix), for the lag
    oldest: float | None = None

    @property
    def events(self) -> int:
        return len(self.ids)

    def to_upsert(self) -> list[int]:
        """Changed jids that were not deleted since."""
        if not self.deleted:
            return list(self.changed)
        return [jid for jid in self.changed if jid not in self.deleted]


def collect(entries: Iterable[tuple[bytes, dict[bytes, bytes] | None]]) -> Changes:
    """Fold stream entries into Changes; an entry that cannot be read is logged and skipped
    (it is still acknowledged: re-reading it would never help)."""
    changes = Changes()
    ids, changed, deleted = changes.ids, changes.changed, changes.deleted
    oldest = None
    for entry_id, fields in entries:
        ids.append(entry_id)
        if not fields:  # trimmed from the stream while pending
            continue
        text = fields.get(b"jids", b"")
        try:
            # one jid (a single call, a chunk of one) is most entries: no ranges to parse
            jids = (int(text),) if text.isdigit() else list(parse_ranges(text.decode("ascii")))
            when = float(fields.get(b"time") or 0) or None
        except ValueError:  # UnicodeDecodeError is one
            log.warning("recorder: skipping unreadable event %s: %r", entry_id, fields)
            continue
        if fields.get(b"status") == _DELETED:
            deleted.update(jids)
        elif len(jids) == 1:
            changed[jids[0]] = None
        else:
            changed.update(dict.fromkeys(jids))
        if when is not None and (oldest is None or when < oldest):
            oldest = when
    changes.oldest = oldest
    return changes
