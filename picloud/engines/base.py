"""The engine protocol: what the API needs from whatever runs the jobs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from picloud.jobs import JobStatus
from picloud.options import JobOptions


@dataclass(frozen=True)
class Submission:
    """One call (one job) or one map (many jobs sharing a function and options)."""

    func_blob: bytes
    func_name: str
    args_blobs: Sequence[bytes]
    options: JobOptions
    #: the user's own modules the jobs need (picloud.dependencies), for engines that ship them
    manifest: dict[str, Any] | None = None
    #: the bytes of files the manifest names, by digest, where the engine cannot read them
    #: itself (a server submitting for an HTTP client); others come from picloud.dependencies
    sources: Mapping[str, bytes] | None = None
    #: the first of the jids the submitter reserved for these jobs (a server reserving per
    #: HTTP client), else None: the engine reserves them
    first_jid: int | None = None
    #: a key under which the engine stores the jids it gave ("start,stop", for
    #: keys.SUBMITTED_SECONDS) with the jobs, in one step (an HTTP submission's token)
    remember: str | None = None


class Finished(NamedTuple):
    """A finished job's status with its pickled result or its error text."""

    status: JobStatus
    result: bytes | None
    exception: str | None


#: Called once with (jid, status) when a watched job finishes.
Watcher = Callable[[int, JobStatus], None]


class Engine(Protocol):
    """Runs jobs. Every method taking jids raises NoSuchJobError for an unknown one."""

    #: 'simulation', 'multiprocessing' or 'cluster'
    connection_type: str

    def submit(self, submission: Submission) -> range:
        """Queue the jobs and return their (contiguous) jids."""

    def statuses(self, jids: Sequence[int]) -> list[JobStatus]:
        """The status of each job, in order."""

    def wait(self, jids: Sequence[int], timeout: float | None, stop_on_error: bool) -> list[int]:
        """Block until every job has finished (or, with stop_on_error, one has failed) or the
        timeout passes; return the jids still unfinished."""

    def results(self, jids: Sequence[int]) -> list[Finished]:
        """Each job's status, result bytes and error text (result is None unless done)."""

    def done_results(self, jids: Sequence[int]) -> list[bytes] | None:
        """The result bytes of every job if all are done (a fast path for whole maps), else
        None: the caller then uses ``results``."""

    def info(self, jids: Sequence[int], fields: Sequence[str]) -> dict[int, dict[str, Any]]:
        """The requested info fields of each job."""

    def kill(self, jids: Sequence[int] | None) -> None:
        """Kill unfinished jobs (None = every job of this client)."""

    def delete(self, jids: Sequence[int]) -> None:
        """Forget finished jobs; raise CloudException if any is unfinished."""

    def watch(self, jid: int, watcher: Watcher) -> None:
        """Call ``watcher`` when job ``jid`` finishes (at once if it has)."""

    def connection_info(self) -> dict[str, Any]:
        """What this engine is and where it runs jobs."""

    def close(self) -> bool:
        """Stop everything; True if something was open."""
