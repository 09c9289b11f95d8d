"""A job's live state in Redis for its admin page: status, stdout, stderr, traceback, and what
it used (peak memory, CPU time) as its worker measured it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis

from picloud import broker
from picloud.engines.cluster.info import read_info
from picloud.exceptions import CloudException, NoSuchJobError

#: The ``info`` fields the page shows.
FIELDS = ("status", "stdout", "stderr", "exception", "memory", "cputime", "cpu_percentage")


@dataclass(frozen=True)
class Live:
    """What Redis holds for one job now, or ``problem``: why it holds nothing."""

    values: dict[str, Any] = field(default_factory=dict)
    problem: str = ""

    @property
    def status(self) -> str | None:
        return self.values.get("status")

    def text(self, name: str, empty: str) -> str:
        """Field ``name`` as text; ``empty`` when the job has none; the problem if any."""
        return self.problem or self.values.get(name) or empty

    def usage(self) -> str:
        """What the job used, in words ('' until it finished and was measured)."""
        memory, cpu = self.values.get("memory"), self.values.get("cputime")
        if self.problem or not memory or not cpu:
            return self.problem
        share = (self.values.get("cpu_percentage") or {}).get("user")
        text = f"peak memory {memory['max_usage'] / 1e6:.1f} MB"
        text += f"; CPU {cpu['user']:.2f} s user, {cpu['system']:.2f} s system"
        if share is not None:
            text += f" ({share:.0f}% of its runtime in user mode)"
        if memory.get("failcnt"):
            text += "; it went over its pool's memory limit"
        return text


def read(job: Any) -> Live:
    """The live state of ``job`` (a Job row), read once per page."""
    found = getattr(job, "_live", None)
    if found is None:
        found = job._live = fetch(job.jid)
    return found


def fetch(jid: int) -> Live:
    url = broker.broker_url()
    try:
        client = broker.connect(url)
    except CloudException as exc:
        return Live(problem=str(exc))
    try:
        return Live(values=read_info(client, [jid], FIELDS)[jid])
    except NoSuchJobError:
        return Live(
            problem=f"Redis has nothing for job {jid} any more (it was deleted, or Redis lost "
            "its data): its output and traceback are gone."
        )
    except redis.RedisError as exc:
        return Live(problem=f"cannot read job {jid} from the broker at {broker.redact(url)}: {exc}")
    finally:
        client.close()
