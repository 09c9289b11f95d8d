"""The web UI as a real server for tests: gunicorn (threads, as deploy/ runs it) on a free
port, its own SQLite database, on a test broker; optionally HTTPS with a self-signed
certificate made here."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.services import REPO, TEST_AUTHORITY, free_port, wait_until

#: Creates the key the tests use in the server's database (the secret's hash only).
_ISSUE = (
    "import django; django.setup();"
    "from webui.apikeys.issuing import issue_key;"
    "import sys; issue_key(secret=sys.argv[2], key=sys.argv[1], description='tests')"
)


def self_signed(folder: Path) -> tuple[str, str]:
    """(certificate, key) PEM files for 127.0.0.1 and localhost, signed by themselves."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "picloud tests")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


class WebServer:
    """``gunicorn webui.wsgi`` on ``broker_url``, with the api key ``key`` issued."""

    def __init__(
        self,
        broker_url: str,
        folder: Path,
        key: tuple[str, str],
        *,
        tls: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.port = free_port()
        self.tls = self_signed(folder) if tls else None
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.log_path = folder / f"web-{self.port}.log"
        self.env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="webui.settings",
            DATABASE_URL=f"sqlite:///{folder / 'web.sqlite3'}",
            PICLOUD_BROKER_URL=broker_url,
            PICLOUD_FLEET_PUBLIC_KEY=TEST_AUTHORITY.public_key,
            PYTHONPATH=os.pathsep.join([str(REPO), *sys.path]),
            **(env or {}),
        )
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=REPO, env=self.env, check=True)
        subprocess.run([sys.executable, "-c", _ISSUE, *key], cwd=REPO, env=self.env, check=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "webui.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--worker-class",
            "gthread",
            "--threads",
            "16",
            "--timeout",
            "120",
            "--graceful-timeout",
            "2",
            "--access-logfile",
            "-",
        ]
        if self.tls:
            command += ["--certfile", self.tls[0], "--keyfile", self.tls[1]]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._answers, 30, f"the web server on port {self.port}")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"the web server exited:\n{self.log()}")
        try:
            verify = self.tls[0] if self.tls else True
            return requests.get(f"{self.url}/servers/list/", timeout=2, verify=verify).ok
        except requests.RequestException:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL the whole server (master and workers), as a crash would."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None
