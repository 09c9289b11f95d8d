"""A worker's sandboxes: the processes its pool process (the supervisor) runs each job's code
in, and the one at hand for the next key.

The supervisor starts a sandbox with a fresh ``exec`` (``python -I -m picloud.sandbox``: no
environment of its own, no descriptors but its channel and output pipes, nothing of the
supervisor's memory), hands it the uid and limits it confines itself to, then sends it jobs:
the verified function and arguments as bytes. While a job runs the supervisor forwards its
stdout/stderr to Redis as they come, serves its cloud calls (workers.jobcalls) and enforces
``_max_runtime``; a kill SIGKILLs the sandbox. A sandbox serves one api key: another key's job
gets another sandbox (a spare is kept started, on a second uid, so that costs no start)."""

from __future__ import annotations

import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from picloud.execution import Outcome
from picloud.jobs import JobStatus
from picloud.sandbox import reports
from picloud.sandbox.channel import BadFrame, Channel, ChannelClosed
from picloud.sandbox.slot import RUNNING
from workers import cgroups, identities
from workers.identities import Identity
from workers.pools import Pool
from workers.progress import Slot, own_slot

log = logging.getLogger("picloud.worker")
#: Seconds a new sandbox gets to confine itself and say it is ready.
START_TIMEOUT = 60.0
#: Starts tried for a sandbox that dies while it starts, before its jobs are told.
START_ATTEMPTS = 3
#: A sandbox that died having used this share of its memory limit is taken to have hit it.
NEAR_LIMIT = 0.9
#: Seconds a supervisor polls for a batch's first answer before it sleeps on the channel.
SPIN_SECONDS = 0.001
#: Seconds between two checks of ``_max_runtime`` while a job runs.
MAX_RUNTIME_TICK = 1.0
_READ = 1 << 16
_STATUSES = {s.value for s in JobStatus if s.finished}
_DONE, _ERROR = JobStatus.DONE.value, JobStatus.ERROR.value
_NUMBERS = (int, float)


class SandboxError(Exception):
    """A sandbox could not be started or confined."""


class ConfinementRefused(SandboxError):
    """The sandbox itself said a step of its confinement failed (it did not merely die)."""


class Output(Protocol):
    """Where jobs' output goes (workers.output.JobOutput)."""

    def write(self, jid: int, stream: str, data: bytes) -> None: ...


class Calls(Protocol):
    """Serves jobs' cloud calls (workers.jobcalls.JobCalls)."""

    def serve(
        self, header: dict[str, Any], parts: list[bytes], channel: Channel, jid: int
    ) -> None: ...


class Lost(NamedTuple):
    """A sandbox that died after job ``jid`` of its batch started (``jid`` None: before any
    did): how, whether it looks like its memory, the kill reason when it was killed on
    purpose."""

    jid: int | None
    why: str
    memory: bool
    killed: str | None
    #: whether job ``jid`` was still running (else it had ended, its report not sent yet)
    running: bool = True
    #: when that job started (unix time, to within a report's interval)
    started: float = 0.0


@dataclass
class Batch:
    """Jobs of one chunk a sandbox runs in a row, with one function and options."""

    func_digest: str
    func_blob: bytes
    options: dict[str, Any]
    jobs: list[tuple[int, bytes]]
    #: ``_max_runtime`` of each job (minutes), or None
    max_runtime: int | None = None
    #: the jobs' own modules (manifest digest, manifest), when they travel with them
    manifest: tuple[str, dict[str, Any]] | None = None


class Ended(NamedTuple):
    """How a batch ended: every job reported (``lost`` None), or its sandbox died; ``retire``
    when the sandbox must not run more."""

    lost: Lost | None
    retire: bool


#: Takes one report's ended jobs, in order: (jid, outcome), or (jid, None) for a job killed
#: before it started.
Done = Callable[[list[tuple[int, Outcome | None]]], None]


class Sandbox:
    """One sandbox process."""

    def __init__(self, pool: Pool, identity: Identity, private_mounts: bool) -> None:
        self.pool = pool
        self.identity = identity
        self.private_mounts = private_mounts
        #: the api key whose jobs it runs (None until its first job)
        self.key: str | None = None
        self.functions: set[str] = set()
        #: the slot it writes which job runs into: its supervisor's
        self.slot = own_slot()
        self._home = ""
        self._kill_reason: str | None = None
        self._lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: Channel | None = None
        base = cgroups.sandbox_base()
        self.group = (
            None
            if base is None
            else cgroups.SandboxGroup(base, identity.uid, pool.memory_per_child_mb, pool.processes)
        )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    def start(self) -> None:
        """Start the process and wait until it is confined; SandboxError if it is not."""
        mine, theirs = socket.socketpair()
        if not self.private_mounts:
            self._home = tempfile.mkdtemp(prefix="picloud-sandbox-")
            os.chown(self._home, self.identity.uid, self.identity.gid)
        command = [sys.executable, "-I", "-m", "picloud.sandbox", str(theirs.fileno())]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(theirs.fileno(), self.slot.descriptor),
            env=_environment(),
            cwd="/",
            start_new_session=True,
        )
        theirs.close()
        self.channel = Channel(mine)
        if self.group is not None:  # before it runs anything: it waits for the setup frame
            self.group.enter(self.process.pid)
        setup = {
            "uid": self.identity.uid,
            "gid": self.identity.gid,
            "limits": self.pool.limits(),
            "cgroup": self.group is not None,
            "pool": self.pool.name,
            "supervisor": os.getpid(),
            "private_mounts": self.private_mounts,
            "slot": self.slot.descriptor,
            "home": self._home,
            "sys_path": _code_paths(),
            "readable": [sys.base_prefix, sys.prefix, sys.exec_prefix, *_code_paths()],
        }
        try:  # it may be dead already (killed as it started): then the send fails too
            self.channel.send(setup)
            ready, _, _ = select.select([mine], [], [], START_TIMEOUT)
            header, _ = self.channel.recv() if ready else ({"error": "no answer"}, [])
        except (ChannelClosed, BadFrame) as exc:
            header = {"error": f"it exited ({exc}): {self._stderr_now()}"}
        if header.get("op") != "ready":
            self.stop()
            refused = ConfinementRefused if header.get("op") == "failed" else SandboxError
            raise refused(f"the sandbox could not be set up: {header.get('error')}")

    def _stderr_now(self) -> str:
        assert self.process is not None and self.process.stderr is not None
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            return ""
        return self.process.stderr.read().decode("utf-8", "replace")[-2000:]

    @property
    def current(self) -> int:
        """The job it runs now (0: none), as it wrote into the slot."""
        last, state = self.slot.now()
        return last if state == RUNNING else 0

    def run(self, batch: Batch, done: Done, output: Output, calls: Calls) -> Ended:
        """Run ``batch``'s jobs in order; ``done`` takes each report of the jobs that ended.
        Ended.lost when the sandbox died meanwhile (it is then gone and must be retired)."""
        assert self.process is not None and self.process.stdout and self.process.stderr
        assert self.channel is not None
        self._kill_reason = None
        ran = _Progress(batch, self.slot)
        streams = {self.process.stdout.fileno(): "stdout", self.process.stderr.fileno(): "stderr"}
        try:
            self._send(batch)
        except ChannelClosed as exc:  # it died before the batch reached it
            return Ended(self._lost(None, False, streams, output, exc), True)
        channel = self.channel
        _await_first_answer(channel)
        while ran.pending:
            if channel.buffered:
                ready = [channel]
            else:
                ready, _, _ = select.select([channel, *streams], [], [], ran.wait())
            if not ready:
                if ran.overdue():
                    self.kill(f"Job exceeded its _max_runtime of {batch.max_runtime} minute(s)")
                continue
            for fd in ready:
                if fd in streams and not self._read(fd, streams, output):
                    del streams[fd]
            if channel not in ready:
                continue
            try:
                ended = self._handle(*channel.recv(), ran, done, output, calls)
            except (ChannelClosed, BadFrame) as exc:
                lost = self._lost(*ran.running(), streams, output, exc)
                return Ended(lost._replace(started=ran.since), True)
            if ended is not None:
                return ended
        return Ended(None, False)

    def _handle(
        self,
        header: dict[str, Any],
        parts: list[bytes],
        ran: _Progress,
        done: Done,
        output: Output,
        calls: Calls,
    ) -> Ended | None:
        """One frame of the sandbox; how the batch ended if it did. BadFrame for a report
        that breaks the order."""
        assert self.channel is not None
        op = header.get("op")
        if op == "out" and header.get("jid") in ran.pending and len(parts) == 1:
            output.write(int(header["jid"]), str(header.get("stream")), parts[0])
        elif op == "call":
            calls.serve(header, parts, self.channel, self.current or ran.pending[0])
        elif op == "done":
            if not ran.ended(parts, done):
                raise BadFrame("a report of jobs it was not running")
            if header.get("retire") is True:
                return Ended(None, True)
        elif op == "need":  # it lost the function: the rest is sent again with it
            self.functions.clear()
            return Ended(None, False)
        return None

    def _send(self, batch: Batch) -> None:
        assert self.channel is not None
        known = batch.func_digest in self.functions
        header = {
            "op": "run",
            "func": batch.func_digest,
            "options": batch.options,
            "jobs": [jid for jid, _ in batch.jobs],
            "key": self.key,
            "bundle": None
            if batch.manifest is None
            else {"digest": batch.manifest[0], "manifest": batch.manifest[1]},
        }
        blobs = [blob for _, blob in batch.jobs]
        self.channel.send(header, [b"" if known else batch.func_blob, *blobs])
        self.functions.add(batch.func_digest)

    def skip(self, jid: int) -> None:
        """Tell the sandbox not to start ``jid`` of its batch (from any thread)."""
        if self.channel is not None:
            try:
                self.channel.send({"op": "skip", "jid": jid})
            except ChannelClosed:
                pass

    def _read(self, fd: int, streams: dict[int, str], output: Output) -> bool:
        """Forward what the pipe ``fd`` has, as the output of the job running now; False at
        its end."""
        data = os.read(fd, _READ)
        if not data:
            return False
        last, _ = self.slot.now()
        if last:
            output.write(last, streams[fd], data)
        return True

    def _lost(
        self,
        jid: int | None,
        running: bool,
        streams: dict[int, str],
        output: Output,
        exc: Exception,
    ) -> Lost:
        assert self.process is not None
        self.kill(None)  # it may live on without its channel (a job closed or garbled it)
        for fd in list(streams):
            while select.select([fd], [], [], 0)[0] and self._read(fd, streams, output):
                pass
        _, status, usage = os.wait4(self.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss * 1024
        memory = peak >= NEAR_LIMIT * (self.pool.memory_per_child_mb << 20)
        memory = memory or (self.group is not None and self.group.hit_limit())
        if isinstance(exc, BadFrame):
            why = f"its sandbox (pid {self.pid}) broke the channel to its supervisor ({exc})"
        elif os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            why = f"its sandbox (pid {self.pid}) was killed by signal {number} ({_signame(number)})"
        else:
            why = f"its sandbox (pid {self.pid}) exited with code {os.WEXITSTATUS(status)}"
        return Lost(jid, why, memory and self._kill_reason is None, self._kill_reason, running)

    def kill(self, reason: str | None) -> None:
        """SIGKILL the sandbox and what it started (from any thread); ``reason`` is what the
        job it runs ends with (killed)."""
        with self._lock:
            if reason is not None and self._kill_reason is None:
                self._kill_reason = reason
            if self.process is not None and self.process.returncode is None:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def stop(self) -> None:
        """End the sandbox and everything of its uid, and clean up after it."""
        if self.process is not None:
            self.kill(None)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                log.warning("picloud: sandbox %s did not end after SIGKILL", self.pid)
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
        if self.channel is not None:
            self.channel.close()
        if self.group is not None:
            self.group.empty()
        if self.identity.switched:
            identities.kill_all(self.identity.uid)
        if self._home:
            shutil.rmtree(self._home, ignore_errors=True)


def _environment() -> dict[str, str]:
    """All a sandbox's environment: nothing of the worker's but where programs are."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "USER": "picloud-job",
        "LOGNAME": "picloud-job",
        # few malloc arenas: each reserves 64 MB of address space, which the limits count
        "MALLOC_ARENA_MAX": "2",
    }


def _code_paths() -> list[str]:
    """Where the supervisor imports from: the sandbox imports from there too."""
    return [p for p in sys.path if p and os.path.isdir(p)]


def _await_first_answer(channel: Channel) -> None:
    """Poll the channel a moment before sleeping on it, yielding the CPU to whoever wants
    it: a short job answers within SPIN_SECONDS, and an awake supervisor takes the answer at
    once (waking a sleeping process costs more than the poll)."""
    deadline = time.perf_counter() + SPIN_SECONDS
    while time.perf_counter() < deadline:
        if channel.buffered or select.select([channel], [], [], 0)[0]:
            return
        os.sched_yield()


def _signame(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _Progress:
    """Where a batch stands, from the sandbox's reports and its slot."""

    def __init__(self, batch: Batch, slot: Slot) -> None:
        self.pending = [jid for jid, _ in batch.jobs]
        self._slot = slot
        self._limit = None if batch.max_runtime is None else batch.max_runtime * 60.0
        self._seen = (0, 0)
        self._since = time.monotonic()
        #: when the first pending job started, as far as the reports tell (unix time)
        self.since = time.time()

    def running(self) -> tuple[int | None, bool]:
        """(the last job of the batch that started, whether it was still running) when the
        sandbox stopped answering, by its slot; (None, False) if none had started. The
        pending jobs before it ran and ended, their reports not sent yet."""
        last, state = self._slot.now()
        if last in self.pending:
            return last, state == RUNNING
        return None, False

    def wait(self) -> float | None:
        """How long to wait for the sandbox before checking ``_max_runtime``."""
        return None if self._limit is None else MAX_RUNTIME_TICK

    def overdue(self) -> bool:
        """Whether the job running now has run longer than ``_max_runtime``."""
        now = self._slot.now()
        if now != self._seen:
            self._seen, self._since = now, time.monotonic()
        return (
            self._limit is not None
            and now[1] == RUNNING
            and time.monotonic() - self._since > self._limit
        )

    def ended(self, parts: list[bytes], done: Done) -> bool:
        """Take a report of ended jobs (in order); False if it is not one."""
        try:
            ended = reports.decode(parts)
        except BadFrame:
            return False
        jids = [jid for jid, _ in ended]
        if jids != self.pending[: len(jids)]:
            return False
        del self.pending[: len(jids)]
        self.since = time.time()
        done(ended)
        return True


class Keeper:
    """A supervisor's sandboxes: the one serving the current key, and a spare started ahead on
    a uid of its own. Sandboxes are started by one thread that lives as long as the process
    (a sandbox's death signal fires when the thread that started it ends)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.current: Sandbox | None = None
        self.private_mounts = os.geteuid() == 0
        self._free = [identities.claim(), identities.claim()]
        self._spare: Sandbox | None = None
        self._error: SandboxError | None = None
        self._changed = threading.Condition()
        threading.Thread(target=self._spawn, name="picloud-sandboxes", daemon=True).start()

    def for_key(self, key: str) -> Sandbox:
        """A sandbox for ``key``'s next job: the current one if it serves ``key``, else the
        spare (the current one is retired first). SandboxError if none can be started."""
        current = self.current
        if current is not None and current.key == key and current.alive:
            return current
        if current is not None:
            self.retire(current)
        with self._changed:
            self._changed.wait_for(lambda: self._spare is not None or self._error is not None)
            sandbox, error = self._spare, self._error
            self._spare, self._error = None, None
            self._changed.notify_all()
        if sandbox is None:
            raise error or SandboxError("no sandbox could be started")
        if not sandbox.alive:  # the spare died waiting
            self.retire(sandbox)
            return self.for_key(key)
        sandbox.key = key
        self.current = sandbox
        return sandbox

    def retire(self, sandbox: Sandbox) -> None:
        """Stop ``sandbox`` (after a kill, a death, ``_kill_process``, a key change); its uid
        serves the next spare."""
        if self.current is sandbox:
            self.current = None
        sandbox.stop()
        with self._changed:
            self._free.append(sandbox.identity)
            self._changed.notify_all()

    def close(self) -> None:
        for sandbox in (self.current, self._spare):
            if sandbox is not None:
                sandbox.stop()

    def _spawn(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: self._spare is None and self._error is None and bool(self._free)
                )
                identity = self._free.pop(0)
            sandbox, error = self._started(identity)
            with self._changed:
                if sandbox is None:
                    self._free.append(identity)
                self._spare, self._error = sandbox, error
                self._changed.notify_all()

    def _started(self, identity: Identity) -> tuple[Sandbox | None, SandboxError | None]:
        """A started sandbox on ``identity``. One that died starting (killed, say) is started
        again, up to START_ATTEMPTS times; one whose private mounts the host refuses makes
        this process fall back to none, once."""
        error: SandboxError | None = None
        for _ in range(START_ATTEMPTS):
            sandbox = Sandbox(self.pool, identity, self.private_mounts)
            try:
                sandbox.start()
                return sandbox, None
            except ConfinementRefused as exc:
                if not self.private_mounts:
                    return None, exc
                log.warning("picloud: %s; sandboxes now run without private mounts", exc)
                self.private_mounts = False
                error = exc
            except SandboxError as exc:
                error = exc
            except OSError as exc:
                return None, SandboxError(f"the sandbox could not be started: {exc}")
        return None, error


_keepers: dict[tuple[int, str], Keeper] = {}
_keepers_lock = threading.Lock()


def keeper_for(pool: Pool) -> Keeper:
    """This process's sandboxes of ``pool`` (made on first use; a forked process makes its
    own)."""
    with _keepers_lock:
        found = _keepers.get((os.getpid(), pool.name))
        if found is None:
            found = _keepers[(os.getpid(), pool.name)] = Keeper(pool)
        return found
