"""The sandbox's side of its channel: run each batch of jobs the supervisor sends (the
function opened once per sandbox), report their ends with what each used, a few at a time
(a batch costs one round trip, not one per job), and relay the jobs' own cloud calls to the
supervisor (``Link``, the transport of picloud.engines.relay).

Which job runs is written into the supervisor's progress slot (picloud.sandbox.slot). What a
job prints goes to the supervisor as frames naming the job, in order with its end; what is
written to the descriptors 1 and 2 themselves (a C library, a child process) goes down the
pipes and counts as the output of the job running when the supervisor reads it."""

from __future__ import annotations

import itertools
import os
import select
import sys
import threading
import time
from collections import OrderedDict
from typing import Any

from picloud import accounting, bundles, runtime, serialization
from picloud.engines import relay
from picloud.execution import Outcome, remote_traceback, run_job
from picloud.jobs import JobStatus
from picloud.options import wire_options
from picloud.sandbox import reports
from picloud.sandbox.channel import Channel, Frame, pack, unpack
from picloud.sandbox.confine import kill_descendants
from picloud.sandbox.slot import JobSlot

#: Functions kept unpickled, by digest.
FUNCTION_CACHE_SIZE = 64
#: Bytes of an upload sent per frame.
UPLOAD_CHUNK = 4 << 20
#: Send finished jobs' ends at least this often while a batch runs (seconds; its last job's
#: at once): each report wakes the supervisor, which takes a core from the batch a moment (a
#: map of 10 ms jobs ran 94.7% efficient reporting every 10 ms, 95.8% every 50 ms).
REPORT_INTERVAL = 0.05
#: Seconds a sandbox stays awake for its next batch before it sleeps.
AWAKE_SECONDS = 0.001
#: Look for skips of the batch's later jobs at least this often (seconds).
CONTROL_INTERVAL = 0.001
#: Send a job's output once this much is buffered, even without a newline.
OUTPUT_BUFFER = 8192


class JobStream:
    """``sys.stdout`` / ``sys.stderr`` of the jobs: lines go to the supervisor as frames."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, channel: Channel, name: str) -> None:
        self._channel = channel
        self.name = name
        self._buffer: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._buffer.append(text)
        self._size += len(text)
        if "\n" in text or self._size >= OUTPUT_BUFFER:
            self.flush()
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._buffer and runtime.job.jid is not None:
            data = "".join(self._buffer).encode("utf-8", "replace")
            header = {"op": "out", "jid": runtime.job.jid, "stream": self.name}
            self._channel.send(header, [data])
        self._buffer, self._size = [], 0

    @property
    def pending(self) -> bool:
        """Whether text waits to be sent."""
        return bool(self._buffer)

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return 1 if self.name == "stdout" else 2


class Link:
    """Relays the jobs' calls to the supervisor, one at a time (a job's threads queue).
    Frames about other things that arrive meanwhile (skips) go to ``aside``."""

    def __init__(self, channel: Channel, aside: list[Frame]) -> None:
        self.channel = channel
        self.aside = aside
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def call(self, method: str, args: dict[str, Any], source: Any = None) -> Any:
        """Send the call and wait for its reply; while waiting, feed ``source`` (a readable)
        to the supervisor in chunks as it pulls them."""
        with self._lock:
            parts: list[bytes] = []
            call_id = next(self._ids)
            body = pack(args, parts)
            self.channel.send({"op": "call", "id": call_id, "method": method, "args": body}, parts)
            while True:
                header, parts = self.channel.recv()
                op = header.get("op")
                if op == "pull" and source is not None:
                    data = source.read(min(int(header.get("size") or UPLOAD_CHUNK), UPLOAD_CHUNK))
                    self.channel.send({"op": "chunk", "id": call_id}, [bytes(data or b"")])
                elif op == "reply" and header.get("id") == call_id:
                    if "error" in header:
                        relay.raise_error(header["error"])
                    return unpack(header.get("value"), parts)
                elif op != "reply":
                    self.aside.append((header, parts))


class Server:
    """Runs the supervisor's jobs in this process until told to stop or the channel closes."""

    def __init__(self, channel: Channel, setup: dict[str, Any]) -> None:
        self.channel = channel
        self.pool = str(setup.get("pool", ""))
        self.memory_mb = int((setup.get("limits") or {}).get("memory_mb") or 0)
        self.slot = JobSlot(int(setup["slot"]))
        self.streams = JobStream(channel, "stdout"), JobStream(channel, "stderr")
        sys.stdout, sys.stderr = self.streams
        self.functions: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self.bundle: bundles.Bundle | None = None
        self.bundle_digest: str | None = None
        self.manifest: dict[str, Any] | None = None
        self.meter = accounting.Meter()
        self.aside: list[Frame] = []
        self.skipped: set[int] = set()
        runtime.supervisor = Link(channel, self.aside).call

    def serve(self) -> None:
        while True:
            if not self.aside:
                _stay_awake(self.channel)
            header, parts = self.aside.pop(0) if self.aside else self.channel.recv()
            op = header.get("op")
            if op == "skip":
                self.skipped.add(int(header.get("jid") or 0))
            elif op == "run":
                if not self.run(header, parts):
                    return
            else:
                return

    def run(self, header: dict[str, Any], parts: list[bytes]) -> bool:
        """Run one batch; False when this sandbox must not run more (it hit its memory)."""
        jids = [int(j) for j in header["jobs"]]
        func_blob, blobs = parts[0], parts[1:]
        bundle = header.get("bundle")
        self._use(bundle, str(header.get("key", "")))
        digest = (str(header["func"]), bundle["digest"] if bundle else "")
        if digest not in self.functions and not func_blob:
            self.channel.send({"op": "need"})  # evicted here: send it again
            return True
        options = wire_options(header["options"])
        try:
            func = self._function(digest, func_blob)
        except Exception:
            broken = "Could not depickle the job's function:\n" + remote_traceback()
            hint = bundles.explain_missing(broken, self.manifest, self.pool)
            func, broken = None, broken if hint is None else f"{hint}\n\n{broken}"
        report = _Report(self.channel)
        checked = time.monotonic()
        for position, (jid, blob) in enumerate(zip(jids, blobs)):
            if time.monotonic() - checked > CONTROL_INTERVAL:
                self._read_control()
                checked = time.monotonic()
            if jid in self.skipped or self.slot.draining():
                report.add_skipped(jid)
                continue
            self.slot.started(jid)
            if func is None:
                outcome = Outcome(jid, JobStatus.ERROR.value, None, broken, time.time(), 0.0)
            else:
                outcome = self._run_one(jid, func, blob, options, position > 0)
            self.slot.finished(jid)
            report.add(outcome)
            if outcome.memory_exceeded:
                report.send(retire=True)
                return False
            if report.due():
                report.send()
        report.send()
        return True

    def _run_one(self, jid: int, func: Any, blob: bytes, options: Any, follows: bool) -> Outcome:
        self.meter.start(follows)
        jid_, status, result, exception, started, took, profile, _, _ = run_job(
            jid, func, blob, options
        )
        if self.streams[0].pending or self.streams[1].pending:
            runtime.job.jid = jid  # what it printed last goes out under its name
            for stream in self.streams:
                stream.flush()
            runtime.job.jid = None
        if _has_children():
            kill_descendants()
        usage = self.meter.stop(took)
        exceeded = _memory_error(status, exception)
        if exceeded:
            exception = f"{accounting.over_limit(jid, self.pool, self.memory_mb)}\n\n{exception}"
        elif exception and "ModuleNotFoundError" in exception:
            hint = bundles.explain_missing(exception, self.manifest, self.pool)
            exception = exception if hint is None else f"{hint}\n\n{exception}"
        return Outcome(jid, status, result, exception, started, took, profile, usage, exceeded)

    def _read_control(self) -> None:
        """Take the skips the supervisor sent while the last job ran."""
        while self.channel.buffered or select.select([self.channel], [], [], 0)[0]:
            self.aside.append(self.channel.recv())
        keep = []
        for header, parts in self.aside:
            if header.get("op") == "skip":
                self.skipped.add(int(header.get("jid") or 0))
            else:
                keep.append((header, parts))
        self.aside[:] = keep

    def _use(self, bundle: dict[str, Any] | None, key: str) -> None:
        """Import the batch's own modules from its bundle (fetched through the supervisor),
        dropping the versions an earlier batch loaded."""
        digest = bundle["digest"] if bundle else None
        if digest == self.bundle_digest:
            return
        if self.bundle is not None:
            self.bundle.uninstall()
        self.bundle, self.bundle_digest, self.manifest = None, digest, None
        if bundle is not None:
            self.manifest = bundle["manifest"]
            self.bundle = bundles.Bundle(self.manifest, _fetch_source, key)
            self.bundle.install()

    def _function(self, digest: tuple[str, str], blob: bytes) -> Any:
        func = self.functions.get(digest)
        if func is not None:
            self.functions.move_to_end(digest)
            return func
        func = serialization.loads(blob)
        self.functions[digest] = func
        if len(self.functions) > FUNCTION_CACHE_SIZE:
            self.functions.popitem(last=False)
        return func


class _Report:
    """Ends of jobs on their way to the supervisor, sent a few at a time
    (picloud.sandbox.reports)."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._ended: list[Outcome | int] = []
        self._last = time.monotonic()

    def add(self, outcome: Outcome) -> None:
        self._ended.append(outcome)

    def add_skipped(self, jid: int) -> None:
        self._ended.append(jid)

    def due(self) -> bool:
        return time.monotonic() - self._last > REPORT_INTERVAL

    def send(self, retire: bool = False) -> None:
        if self._ended or retire:
            self._channel.send({"op": "done", "retire": retire}, reports.encode(self._ended))
        self._ended, self._last = [], time.monotonic()


def _stay_awake(channel: Channel) -> None:
    """Poll for the next batch a moment before sleeping on the channel, yielding the CPU to
    whoever else wants it: jobs that come one after another then find this process awake
    (waking a sleeping process, and its cold caches, cost far more than the job itself)."""
    deadline = time.perf_counter() + AWAKE_SECONDS
    while time.perf_counter() < deadline:
        if channel.buffered or select.select([channel], [], [], 0)[0]:
            return
        os.sched_yield()


def _fetch_source(digest: str) -> bytes:
    """A file of the jobs' own modules, from the broker through the supervisor."""
    assert runtime.supervisor is not None
    return bytes(runtime.supervisor("source", {"digest": digest}))


def _has_children() -> bool:
    """Whether the job left a process (a cheap check before the costly search)."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return False
    return True


def _memory_error(status: str, exception: str | None) -> bool:
    """Whether the job ended by running out of memory (the pool's limit)."""
    if status != JobStatus.ERROR.value or not exception:
        return False
    return exception.rstrip().rpartition("\n")[2].startswith("MemoryError")
