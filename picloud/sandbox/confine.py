"""Confining the sandbox process before it runs any job (it starts from a fresh ``exec`` with
an empty environment and no inherited descriptors but its channel and output pipes):

- started as root: a mount namespace of its own, where /tmp, /var/tmp and /dev/shm are fresh
  private tmpfs (gone with the sandbox) and /proc shows only its own uid's processes; then the
  uid and gid its supervisor picked, with no supplementary groups;
- the pool's limits, as rlimits (the supervisor may have put it in a cgroup instead);
- no way to regain privileges (``PR_SET_NO_NEW_PRIVS``), death with its supervisor
  (``PR_SET_PDEATHSIG``), and orphans of its jobs re-parented to it (a child subreaper), so
  what a job started can be found and killed when the job ends;
- timers as precise as the kernel gives (``PR_SET_TIMERSLACK`` of 1 ns, not Linux's 50 us): a
  job's sleeps and timeouts end when asked (measured here: a 10 ms sleep overshot by 133 us,
  98 us with it)."""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from typing import Any

_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT, _MS_BIND = 1, 2, 4, 8, 32, 4096
_MS_REC, _MS_PRIVATE, _MNT_DETACH = 0x4000, 1 << 18, 2
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
_PR_SET_TIMERSLACK = 29
#: Private tmpfs mounts, and the share of the pool's memory each may fill.
_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
HOME_IN_SCRATCH = "/tmp/home"

_libc = ctypes.CDLL(None, use_errno=True)


class ConfinementError(OSError):
    """A step of the confinement failed: the sandbox must not run jobs."""


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise ConfinementError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str, target: str, kind: str, flags: int, data: str) -> None:
    _check(
        _libc.mount(source.encode(), target.encode(), kind.encode(), flags, data.encode()),
        f"mount {kind} on {target}",
    )


def private_mounts(memory_mb: int, uid: int, gid: int, readable: list[str]) -> str:
    """A mount namespace with private scratch space and a /proc hiding other uids, where the
    ``readable`` paths (Python, its libraries, the worker's code) are reachable by ``uid``
    even under a directory it may not enter (such as /root): that directory is covered by an
    empty tmpfs holding only those paths, so nothing else of it shows. Returns the home made
    for the job."""
    _check(_libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
    for target in _SCRATCH:
        if os.path.isdir(target):
            _mount("tmpfs", target, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={memory_mb}m,mode=1777")
    _expose(readable, uid, gid)
    _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "hidepid=2")
    os.makedirs(HOME_IN_SCRATCH, mode=0o700)
    os.chown(HOME_IN_SCRATCH, uid, gid)
    return HOME_IN_SCRATCH


def _closed_ancestor(path: str, uid: int, gid: int) -> str | None:
    """The outermost directory above ``path`` that ``uid`` may not enter, if any."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    current = ""
    for part in parts[:-1]:
        current += os.sep + part
        try:
            found = os.stat(current)
        except OSError:
            return None
        if found.st_uid == uid:
            allowed = found.st_mode & 0o100
        elif found.st_gid == gid:
            allowed = found.st_mode & 0o010
        else:
            allowed = found.st_mode & 0o001
        if not allowed:
            return current
    return None


def _expose(paths: list[str], uid: int, gid: int) -> None:
    """Make ``paths`` reachable under the directories ``uid`` may not enter (see
    ``private_mounts``), read-only."""
    covered: dict[str, list[str]] = {}
    for path in sorted({os.path.realpath(p) for p in paths if os.path.exists(p)}):
        closed = _closed_ancestor(path, uid, gid)
        if closed is not None:
            covered.setdefault(closed, []).append(path)
    stage = 0
    for closed, inside in covered.items():
        staged = []
        for path in inside:  # held aside before the tmpfs covers them
            holder = f"/tmp/.picloud-expose-{stage}"
            stage += 1
            os.makedirs(holder) if os.path.isdir(path) else open(holder, "w").close()
            _mount(path, holder, "", _MS_BIND | _MS_REC, "")
            staged.append((holder, path))
        _mount("tmpfs", closed, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=0755")
        for holder, path in staged:
            if os.path.isdir(holder):
                os.makedirs(path, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "w").close()
            _mount(holder, path, "", _MS_BIND | _MS_REC, "")
            _mount("", path, "", _MS_BIND | _MS_REMOUNT | _MS_RDONLY, "")
            _check(_libc.umount2(holder.encode(), _MNT_DETACH), f"unmount {holder}")


def apply_limits(limits: dict[str, Any], in_cgroup: bool) -> None:
    """The pool's rlimits: memory (data segment, with address space as a backstop) and
    processes unless its cgroup limits them, open files; no core files."""
    wanted = {resource.RLIMIT_CORE: 0}
    if in_cgroup:
        limits = {"open_files": limits.get("open_files")}
    if limits.get("memory_mb"):
        memory = int(limits["memory_mb"]) << 20
        wanted[resource.RLIMIT_DATA] = memory
        wanted[resource.RLIMIT_AS] = 2 * memory + (1 << 30)
    if limits.get("processes"):
        wanted[resource.RLIMIT_NPROC] = int(limits["processes"])
    if limits.get("open_files"):
        wanted[resource.RLIMIT_NOFILE] = int(limits["open_files"])
    for which, value in wanted.items():
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def become(uid: int, gid: int) -> None:
    """Drop to ``uid``/``gid`` for good (only when started as root)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise ConfinementError(0, f"still uid {os.geteuid()} after dropping to {uid}")


def tie_to_supervisor(supervisor: int) -> None:
    """No new privileges; die with the supervisor; collect the jobs' orphans; its own /proc
    files its own again (a uid change made them root's), so it can measure its jobs; precise
    timers."""
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    _check(_libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0), "PR_SET_DUMPABLE")
    _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")
    _check(_libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "PR_SET_CHILD_SUBREAPER")
    _check(_libc.prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0), "PR_SET_TIMERSLACK")
    if os.getppid() != supervisor:  # it died before the death signal was armed
        os._exit(1)


def confine(setup: dict[str, Any]) -> str:
    """Everything above, as the supervisor's setup frame asks; returns the job's home."""
    uid, gid = int(setup["uid"]), int(setup["gid"])
    limits = setup.get("limits") or {}
    home = str(setup.get("home") or "")
    if os.geteuid() == 0 and setup.get("private_mounts"):
        readable = [str(p) for p in setup.get("readable", ())]
        home = private_mounts(int(limits.get("memory_mb") or 256), uid, gid, readable)
    apply_limits(limits, bool(setup.get("cgroup")))
    if os.geteuid() == 0 and uid != 0:
        become(uid, gid)
    tie_to_supervisor(int(setup["supervisor"]))
    os.chdir(home)
    return home


def kill_descendants() -> int:
    """SIGKILL every process this sandbox's job left running (each is a child of the sandbox
    or becomes one when its parent dies: the sandbox is their subreaper), reap them, and return
    how many there were."""
    killed = 0
    for _ in range(64):  # each round takes the children whose parents the last one killed
        pids = _children()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        killed += len(pids)
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    return killed


def _children() -> set[int]:
    pids: set[int] = set()
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children", encoding="ascii") as children:
                pids.update(int(p) for p in children.read().split())
    except OSError:
        pass
    return pids
