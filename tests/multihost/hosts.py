"""Test hosts of our own on one machine: network namespaces (``ip netns``) joined by a bridge,
each with a private address, a hostname of its own (a UTS namespace) and its own HOME and
temp dir; processes started on a host see only its network."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.services import REPO


class NoNamespaces(RuntimeError):
    """This machine cannot make test hosts (no ``ip``, or not allowed)."""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise NoNamespaces(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Host:
    """One namespace: ``address`` on the bridge; ``start`` runs a command there."""

    def __init__(self, network: Network, name: str, number: int, folder: Path) -> None:
        self.name = name
        self.netns = f"{network.prefix}{name}"
        self.address = f"{network.subnet}.{number}"
        self.home = folder / name / "home"
        self.temp = folder / name / "tmp"
        for made in (self.home / ".picloud", self.temp):
            made.mkdir(parents=True)
        for made in (self.home, self.temp):
            made.chmod(0o755)
        self.processes: list[subprocess.Popen[bytes]] = []
        outside, inside = f"{network.prefix}{number}o", f"{network.prefix}{number}i"
        _ip("netns", "add", self.netns)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", self.netns)
        _ip("link", "set", outside, "master", network.bridge, "up")
        _ip("-n", self.netns, "addr", "add", f"{self.address}/24", "dev", inside)
        _ip("-n", self.netns, "link", "set", inside, "up")
        _ip("-n", self.netns, "link", "set", "lo", "up")

    def environment(self, **extra: str) -> dict[str, str]:
        """A fresh environment of this host: its HOME, PICLOUD_HOME and temp dir, the code."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("PICLOUD_", "DJANGO_"))}
        return {
            **keep,
            "HOME": str(self.home),
            "PICLOUD_HOME": str(self.home / ".picloud"),
            "TMPDIR": str(self.temp),
            "PYTHONPATH": str(REPO),
            **extra,
        }

    def start(
        self, command: list[str], env: Mapping[str, str], log: str, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """``command`` on this host (its own process group), output to ``log`` in its dir."""
        wrapped = [
            "ip", "netns", "exec", self.netns,
            "unshare", "--uts", "sh", "-c", f'hostname {self.name}; exec "$@"', "sh", *command,
        ]  # fmt: skip
        with open(self.home.parent / log, "ab") as out:
            process = subprocess.Popen(
                wrapped,
                env=dict(env),
                cwd=cwd or self.temp,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def python(self, *args: str) -> list[str]:
        return [sys.executable, *args]

    def log(self, name: str) -> str:
        path = self.home.parent / name
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)


class Network:
    """A bridge and the hosts on it (the machine itself is ``.254`` on it)."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("ip") is None:
            raise NoNamespaces("no `ip` command (Debian's iproute2)")
        tag = os.getpid() % 200
        self.prefix = f"pc{tag}"
        self.subnet = f"10.213.{tag}"
        self.bridge = f"{self.prefix}br"
        self.folder = folder
        self.hosts: dict[str, Host] = {}
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.subnet}.254/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    def host(self, name: str) -> Host:
        made = Host(self, name, len(self.hosts) + 1, self.folder)
        self.hosts[name] = made
        return made

    def close(self) -> None:
        for host in reversed(list(self.hosts.values())):
            host.stop()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
