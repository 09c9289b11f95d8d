"""How a sandbox reports ended jobs to its supervisor: one fixed-size row per job (struct: no
parsing to trust), then the job's result and, when it has them, its error and profile texts,
as the frame's parts. ``decode`` checks everything, since the sandbox is untrusted."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from picloud.accounting import Usage
from picloud.execution import Outcome
from picloud.jobs import JobStatus
from picloud.sandbox.channel import BadFrame

#: jid, status, flags, started, runtime, peak memory, user and system CPU seconds.
ROW = struct.Struct("<qBBddqdd")
STATUSES = [s.value for s in JobStatus if s.finished]
_CODE = {status: code for code, status in enumerate(STATUSES)}
HAS_ERROR, HAS_PROFILE, OVER_MEMORY, SKIPPED, MEASURED = 1, 2, 4, 8, 16


def encode(ended: Sequence[Outcome | int]) -> list[bytes]:
    """The parts of a report of ``ended`` jobs: outcomes, or the jid of a job skipped."""
    rows, texts = [], []
    for item in ended:
        if isinstance(item, int):
            rows.append(ROW.pack(item, 0, SKIPPED, 0.0, 0.0, 0, 0.0, 0.0))
            texts.append(b"")
            continue
        flags = (HAS_ERROR if item.exception else 0) | (HAS_PROFILE if item.profile else 0)
        flags |= OVER_MEMORY if item.memory_exceeded else 0
        used = item.usage
        if used is not None:
            flags |= MEASURED
        rss, user, system = used if used is not None else (0, 0.0, 0.0)
        code = _CODE[item.status]
        rows.append(ROW.pack(item.jid, code, flags, item.started, item.runtime, rss, user, system))
        texts.append(item.result or b"")
        if item.exception:
            texts.append(item.exception.encode("utf-8", "replace"))
        if item.profile:
            texts.append(item.profile.encode("utf-8", "replace"))
    return [b"".join(rows), *texts]


def decode(parts: Sequence[bytes]) -> list[tuple[int, Outcome | None]]:
    """(jid, its outcome, or None for a job skipped) for each job of a report; BadFrame if the
    report is not one ``encode`` made."""
    if not parts or len(parts[0]) % ROW.size:
        raise BadFrame("a report whose rows are cut")
    out: list[tuple[int, Outcome | None]] = []
    at = 1
    for jid, code, flags, started, runtime, rss, user, system in ROW.iter_unpack(parts[0]):
        if flags & SKIPPED:
            out.append((jid, None))
            at += 1
            continue
        wanted = 1 + bool(flags & HAS_ERROR) + bool(flags & HAS_PROFILE)
        if code >= len(STATUSES) or at + wanted > len(parts):
            raise BadFrame("a report with a bad status or missing texts")
        result, at = parts[at], at + 1
        error = profile = None
        if flags & HAS_ERROR:
            error, at = parts[at].decode("utf-8", "replace"), at + 1
        if flags & HAS_PROFILE:
            profile, at = parts[at].decode("utf-8", "replace"), at + 1
        status = STATUSES[code]
        usage = Usage(rss, user, system) if flags & MEASURED else None
        done = result if status == JobStatus.DONE.value else None
        exceeded = bool(flags & OVER_MEMORY)
        out.append(
            (jid, Outcome(jid, status, done, error, started, runtime, profile, usage, exceeded))
        )
    if at != len(parts):
        raise BadFrame("a report with parts left over")
    return out
