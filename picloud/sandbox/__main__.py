"""``python -I -m picloud.sandbox``: a sandbox process, started by a worker's supervisor with
an empty environment, its channel's descriptor as its argument and its stdout/stderr piped to the
supervisor. It confines itself as the setup frame says, says it is ready, then runs jobs."""

from __future__ import annotations

import os
import socket
import sys

from picloud.sandbox.channel import Channel
from picloud.sandbox.confine import confine


def main() -> int:
    channel = Channel(socket.socket(fileno=int(sys.argv[1])))
    setup, _ = channel.recv()
    try:
        home = confine(setup)
    except OSError as exc:
        channel.send({"op": "failed", "error": str(exc)})
        return 1
    os.environ["HOME"] = os.environ["TMPDIR"] = home
    os.environ["PICLOUD_HOME"] = os.path.join(home, ".picloud")
    sys.path.extend(p for p in setup.get("sys_path", ()) if p not in sys.path)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[attr-defined]

    from picloud import runtime
    from picloud.sandbox.serve import Server

    runtime.in_worker = True
    server = Server(channel, setup)
    channel.send({"op": "ready", "pid": os.getpid(), "home": home})
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
