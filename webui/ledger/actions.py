"""The admin's job actions: kill, delete and re-run jobs of every api key through the cluster
engine (the same path as ``cloud.kill`` / ``cloud.delete``), then bring their rows up to date.
Jobs Redis no longer has are only ledger rows: deleting removes them, kill and re-run skip
them and say so."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis

from picloud import broker, keys
from picloud.engines.cluster.engine import ClusterEngine
from picloud.exceptions import CloudException
from webui.ledger import jobrows


@dataclass(frozen=True)
class Outcome:
    """What to tell the admin user."""

    message: str
    failed: bool = False


def engine() -> ClusterEngine:
    """The cluster engine as the admin: it may act on every api key's jobs."""
    return ClusterEngine(broker.broker_url(), keys.ANY_OWNER)


def _with_engine(work: Callable[[ClusterEngine], Outcome]) -> Outcome:
    """``work(engine)``, or the engine's error text when it refuses (nothing changed then)."""
    try:
        made = engine()
    except CloudException as exc:
        return Outcome(str(exc), failed=True)
    try:
        return work(made)
    except CloudException as exc:
        return Outcome(str(exc), failed=True)
    except redis.RedisError as exc:
        return Outcome(f"lost the broker at {broker.redact(made.url)}: {exc}", failed=True)
    finally:
        made.close()


def _in_redis(client: redis.Redis, jids: Sequence[int]) -> tuple[list[int], list[int]]:
    """``jids`` split into those Redis has and those it no longer has."""
    pipe = client.pipeline(transaction=False)
    for jid in jids:
        pipe.exists(keys.job(jid))
    present, gone = [], []
    for jid, exists in zip(jids, pipe.execute()):
        (present if exists else gone).append(jid)
    return present, gone


def _jobs(n: int) -> str:
    return f"{n} job" if n == 1 else f"{n} jobs"


def _notes(*notes: tuple[int, str]) -> str:
    said = [f"{n} {text}" for n, text in notes if n]
    return f" ({'; '.join(said)})" if said else ""


def kill(jids: Sequence[int]) -> Outcome:
    def work(made: ClusterEngine) -> Outcome:
        present, gone = _in_redis(made.redis, jids)
        statuses = made.statuses(present) if present else []
        running = sum(not status.finished for status in statuses)
        if present:
            made.kill(present)
            jobrows.sync(made.redis, present)
        notes = _notes(
            (len(present) - running, "had finished already"),
            (len(gone), "no longer in Redis"),
        )
        return Outcome(f"killed {_jobs(running)}{notes}")

    return _with_engine(work)


def delete(jids: Sequence[int]) -> Outcome:
    def work(made: ClusterEngine) -> Outcome:
        present, gone = _in_redis(made.redis, jids)
        if present:
            made.delete(present)
        deleted = jobrows.delete_rows(jids)
        return Outcome(f"deleted {_jobs(deleted)}{_notes((len(gone), 'only in the ledger'))}")

    return _with_engine(work)


def rerun(jids: Sequence[int]) -> Outcome:
    def work(made: ClusterEngine) -> Outcome:
        present, gone = _in_redis(made.redis, jids)
        if present:
            made.rerun(present)
            jobrows.sync(made.redis, present)
        notes = _notes((len(gone), "no longer in Redis, so not run again"))
        return Outcome(f"queued {_jobs(len(present))} to run again{notes}")

    return _with_engine(work)
