"""The job API through the web UI's HTTP API, for a client that has an api key and a server
URL but no broker: PiCloud's own arrangement (its client never saw a queue).

Each Engine call is one POST to ``/api/engine/<method>`` whose body is a frame
(picloud.sandbox.channel: a JSON header and byte parts), answered by a frame; the server runs it
on its ClusterEngine as the request's api key (picloud.engines.relay.serve) and unpickles
nothing. A map is one request whatever its size, its results one answer, a wait one long poll
of up to LONG_POLL seconds. Through a server that is away (a restart) or busy (429 or 503 with
Retry-After) a call is tried again for RETRY_SECONDS; a submission carries a token the server
remembers, so trying it again never queues its jobs twice."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from picloud import dependencies, waits
from picloud.engines.base import Submission, Watcher
from picloud.engines.cluster.sources import MISSING_SOURCES
from picloud.engines.http_connections import Answer, CertificateRefused, Connections, Unreachable
from picloud.engines.relay import RelayEngine, raise_error
from picloud.exceptions import CloudException, NoSuchJobError
from picloud.http import ApiClient, refusal
from picloud.jids import Submitted
from picloud.jobs import JobStatus
from picloud.sandbox.channel import BadFrame, decode_frame, encode_frame, pack, unpack

#: The media type of a frame.
FRAME_TYPE = "application/x-picloud-frame"
#: Which try of a call a request is (1, 2, ...): only a second try of a submission can find
#: its token already used, so the server looks it up only then.
ATTEMPT_HEADER = "X-Picloud-Attempt"
#: The longest a wait blocks on the server (a longer wait is several).
LONG_POLL = 20.0
#: Seconds a call keeps trying a server that is unreachable, restarting or overloaded.
RETRY_SECONDS = 120.0
#: The longest pause between two tries (a Retry-After above it is cut to it).
MAX_PAUSE = 10.0
#: Seconds between two status checks of watched jobs (callbacks).
WATCH_INTERVAL = 0.2
#: Waits whose brought results are kept (for the done_results that follows each).
PREFETCHED = 8
#: Answers worth another try: the server restarting behind a proxy, overloaded, or rate-limiting.
_RETRIED = {429, 502, 503, 504}


class HttpTransport:
    """Engine calls as HTTP requests to one server, as one api key."""

    def __init__(self, server_url: str, api_key: str, api_secretkey: str) -> None:
        self.client = ApiClient(server_url, api_key, api_secretkey)
        #: this client's id: the server reserves its jids in blocks of its own
        self.client.session.headers["X-Picloud-Client"] = uuid.uuid4().hex
        self.connections = Connections(self.client)
        #: files of the user's modules this server has been sent (or told it holds)
        self._sent: set[str] = set()

    def __call__(self, method: str, args: dict[str, Any]) -> Any:
        if method == "submit":
            return self._submit(args)
        return self._post(method, args)

    def _submit(self, args: dict[str, Any]) -> Any:
        args = {**args, "token": uuid.uuid4().hex}
        manifest = args.get("manifest")
        if manifest:
            args["sources"] = self._sources(manifest, everything=False)
        try:
            found = self._post("submit", args)
        except CloudException as exc:
            if exc.status != MISSING_SOURCES or not manifest:
                raise
            args["sources"] = self._sources(manifest, everything=True)
            found = self._post("submit", args)
        if manifest:
            self._sent.update(entry["digest"] for entry in manifest["modules"].values())
        return found

    def _sources(self, manifest: dict[str, Any], everything: bool) -> dict[str, bytes]:
        """The bytes of the manifest's files (those not sent before, unless ``everything``)."""
        digests = {entry["digest"] for entry in manifest.get("modules", {}).values()}
        return {d: dependencies.source(d) for d in digests if everything or d not in self._sent}

    def _post(self, method: str, args: dict[str, Any]) -> Any:
        parts: list[bytes] = []
        body = encode_frame({"args": pack(args, parts)}, parts)
        response = self._send(method, body)
        if response.headers.get("Content-Type", "").startswith(FRAME_TYPE):
            try:
                header, parts = decode_frame(response.content)
            except BadFrame as exc:
                raise CloudException(f"the server's answer to {method!r} is malformed: {exc}")
            if "error" in header:
                raise_error(header["error"])
            return unpack(header.get("value"), parts)
        raise _refusal(response, f"{self.client.base}api/engine/{method}")

    def _send(self, method: str, body: bytes) -> Answer:
        """POST ``body``, trying again (for RETRY_SECONDS) while the server is away or busy."""
        url = f"{self.client.base}api/engine/{method}"
        deadline = time.monotonic() + RETRY_SECONDS
        pause = 0.1
        attempt = 0
        while True:
            attempt += 1
            headers = {"Content-Type": FRAME_TYPE, ATTEMPT_HEADER: str(attempt)}
            try:
                response = self.connections.post(
                    f"api/engine/{method}", body, headers, (5.0, LONG_POLL + 30.0)
                )
            except CertificateRefused as exc:
                raise CloudException(
                    f"the HTTPS certificate of {self.client.base} was not accepted ({exc}); "
                    "set server_ca_file to the CA that signed it"
                ) from None
            except Unreachable as exc:
                problem: Any = exc
                # a kept connection the server closed while idle: a new one at once
                wait = 0.0 if exc.reused and attempt == 1 else pause
            else:
                if response.status_code not in _RETRIED:
                    return response
                problem = _refusal(response, url)
                wait = _retry_after(response, pause)
            if time.monotonic() + wait > deadline:
                if isinstance(problem, CloudException):
                    raise problem
                raise CloudException(
                    f"cannot reach the picloud server at {self.client.base} "
                    f"(tried for {RETRY_SECONDS:g} s): {problem}"
                ) from None
            time.sleep(wait)
            if wait:
                pause = min(2 * pause, MAX_PAUSE)

    def close(self) -> None:
        self.connections.close()
        self.client.close()


def _retry_after(response: Any, default: float) -> float:
    """The pause a 429/503 asks for (Retry-After in seconds), else ``default``."""
    try:
        return min(MAX_PAUSE, max(0.0, float(response.headers.get("Retry-After", ""))))
    except ValueError:
        return default


def _refusal(response: Any, url: str) -> CloudException:
    """The error the server answered; a refused key says so first."""
    found = refusal(response, f"POST {url}")
    if response.status_code == 401:
        text = f"the picloud server refused the api key: {found.parameter}"
        return CloudException(text, status=401)
    return found


def _token(jids: Sequence[int]) -> Any:
    """What names a set of jids in the prefetched results."""
    if isinstance(jids, range):
        return ("range", jids.start, jids.stop, jids.step)
    return tuple(int(j) for j in jids)


class HttpEngine(RelayEngine):
    """The Engine protocol on the fleet, through its web UI's HTTP API."""

    def __init__(self, server_url: str, api_key: str, api_secretkey: str) -> None:
        self.transport = HttpTransport(server_url, api_key, api_secretkey)
        super().__init__(self.transport, "cluster", LONG_POLL)
        self.api_key = api_key
        self._own = Submitted()
        #: results a wait brought, by the jids waited for (see wait)
        self._prefetched: dict[Any, list[bytes]] = {}
        self._watched: dict[int, list[Watcher]] = {}
        #: guards _prefetched and _watched
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    def submit(self, submission: Submission) -> range:
        jids = super().submit(submission)
        self._own.add(jids)
        return jids

    def wait(self, jids: Sequence[int], timeout: float | None, stop_on_error: bool) -> list[int]:
        """Long polls; the one that sees every job done brings their results when they are
        small (``done_results`` then answers without a request)."""
        wanted = jids if isinstance(jids, range) else [int(j) for j in jids]

        def once(pending: Sequence[int], seconds: float) -> list[int]:
            args = {"jids": pending, "timeout": seconds, "stop_on_error": stop_on_error}
            found = self._call("wait_results", args)
            if found["results"] is not None and len(pending) == len(wanted):
                with self._lock:
                    self._prefetched[_token(wanted)] = found["results"]
                    while len(self._prefetched) > PREFETCHED:
                        self._prefetched.pop(next(iter(self._prefetched)))
            return list(found["pending"])

        return waits.in_slices(once, self.statuses, wanted, timeout, stop_on_error, LONG_POLL)

    def done_results(self, jids: Sequence[int]) -> list[bytes] | None:
        with self._lock:
            found = self._prefetched.pop(_token(jids), None)
        return found if found is not None else super().done_results(jids)

    def kill(self, jids: Sequence[int] | None) -> None:
        if jids is not None:
            super().kill(jids)
            return
        for own in self._own.ranges:
            try:
                super().kill(own)
            except NoSuchJobError:  # some were deleted: the others one by one
                for jid in own:
                    with contextlib.suppress(NoSuchJobError):
                        super().kill([jid])

    def watch(self, jid: int, watcher: Watcher) -> None:
        """Call ``watcher`` once ``jid`` finished: one thread checks every watched job, in one
        request per WATCH_INTERVAL."""
        with self._lock:
            self._watched.setdefault(jid, []).append(watcher)
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._follow, name="picloud-http-watch", daemon=True
                )
                self._watcher.start()

    def _follow(self) -> None:
        while True:
            with self._lock:
                jids = sorted(self._watched)
                if not jids:
                    self._watcher = None
                    return
            try:
                statuses = self.statuses(jids)
            except NoSuchJobError as exc:  # deleted meanwhile: no callback will come
                with self._lock:
                    self._watched.pop(exc.jid, None)  # type: ignore[call-overload]
                statuses = []
            except CloudException:  # the server is away for long: keep watching
                statuses = [JobStatus.QUEUED] * len(jids)
            for jid, status in zip(jids, statuses):
                if status.finished:
                    with self._lock:
                        watchers = self._watched.pop(jid, [])
                    for watcher in watchers:
                        watcher(jid, status)
            time.sleep(WATCH_INTERVAL)

    def connection_info(self) -> dict[str, Any]:
        return {
            "opened": True,
            "connection_type": "cluster",
            "transport": "http",
            "server_url": self.transport.client.base,
            "broker_url": None,
            "api_key": self.api_key,
        }

    def close(self) -> bool:
        self.transport.close()
        return True
