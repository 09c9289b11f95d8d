"""The cloud calls a job makes from its sandbox, served by its supervisor as the job's own api
key: jobs (picloud.engines.relay, on a ClusterEngine of that key whose submissions the
running job vouches for) and files (that key's store). Nothing of another key is reachable:
the engine reads only its owner's jobs, the store holds only its key's files."""

from __future__ import annotations

import itertools
from typing import Any

from picloud import keys, signing
from picloud.engines import relay
from picloud.engines.cluster.engine import ClusterEngine
from picloud.engines.cluster.sources import SOURCE_SECONDS
from picloud.exceptions import CloudException
from picloud.files import store
from picloud.files.names import check_name
from picloud.files.store import ByteStream
from picloud.sandbox.channel import Channel, ChannelClosed, pack, unpack
from workers.verify import root_of

#: Bytes the supervisor reads of a stored file per call at most.
READ_CHUNK = 4 << 20


class JobCalls:
    """Serves one supervisor's jobs' calls; ``begin`` says whose job runs now."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.key: str | None = None
        self._root: tuple[dict[str, Any], str] = ({}, "")
        self._bundle: str | None = None
        self._engine: ClusterEngine | None = None
        self._files: dict[int, ByteStream] = {}
        self._handles = itertools.count(1)

    def begin(self, spec: dict[str, Any], payload_digest: str) -> None:
        """The jobs of the chunk ``spec`` (whose arguments have ``payload_digest``) run now:
        their submissions carry the signed message they descend from."""
        key = str(spec["key"])
        root = root_of(spec)
        if key != self.key:
            self.close()
            self.key = key
        self._root = (root, payload_digest if root is spec else str(spec["vouch"]["digest"]))
        bundle = spec.get("bundle")
        self._bundle = str(bundle) if bundle else None

    def end(self) -> None:
        """The job ended: the files it left open are closed."""
        for stream in self._files.values():
            stream.close()
        self._files.clear()

    def close(self) -> None:
        self.end()
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def serve(self, header: dict[str, Any], parts: list[bytes], channel: Channel, jid: int) -> None:
        """Answer one call frame of job ``jid`` (the one its sandbox runs now) on ``channel``."""
        call_id = header.get("id")
        method = str(header.get("method"))
        try:
            args = unpack(header.get("args"), parts)
            if not isinstance(args, dict):
                raise CloudException(f"a malformed {method!r} call")
            value = self._dispatch(method, args, channel, call_id, jid)
        except ChannelClosed:
            raise
        except Exception as exc:
            channel.send({"op": "reply", "id": call_id, "error": relay.error_of(exc)})
            return
        out: list[bytes] = []
        channel.send({"op": "reply", "id": call_id, "value": pack(value, out)}, out)

    def _dispatch(
        self, method: str, args: dict[str, Any], channel: Channel, call_id: Any, jid: int
    ) -> Any:
        if method.startswith("files."):
            return self._file_call(method[6:], args, channel, call_id)
        if method == "connection_info":  # where the broker is stays the supervisor's business
            return {"opened": True, "connection_type": "cluster", "api_key": self.key}
        if method == "source":  # a file of the job's own modules
            assert self.key is not None
            return self._source(str(args.get("digest")))
        return relay.serve(self._engine_for(jid), method, args)

    def _source(self, digest: str) -> bytes:
        found = self._engine_now().redis.get(keys.source(str(self.key), digest))
        if found is None:
            raise CloudException(
                f"a file of the job's own modules ({digest[:12]}...) is no longer in the broker "
                f"(they are kept {SOURCE_SECONDS // 86400} days after their last use): submit "
                "the job again"
            )
        return found

    def _engine_now(self) -> ClusterEngine:
        if self._engine is None:
            voucher = signing.Voucher(str(self.key), *self._root, 0, self._bundle)
            self._engine = ClusterEngine(self.url, signer=voucher, open_pickles=False)
        return self._engine

    def _engine_for(self, jid: int) -> ClusterEngine:
        """This key's engine, its submissions vouched for by job ``jid``."""
        assert self.key is not None
        engine = self._engine_now()
        engine.signer = signing.Voucher(self.key, *self._root, jid, self._bundle)
        return engine

    def _file_call(self, what: str, args: dict[str, Any], channel: Channel, call_id: Any) -> Any:
        assert self.key is not None
        files = store.store_of(self.key)
        name = check_name(str(args.get("name", ""))) if "name" in args else ""
        if what == "put":
            return files.put(name, _Pull(channel, call_id), args.get("size"))
        if what == "open":
            opened = files.open(name, int(args["start"]), _optional_int(args.get("end")))
            handle = next(self._handles)
            self._files[handle] = opened.stream
            return {"handle": handle, "size": opened.size, "md5": opened.md5}
        if what == "read":
            size = int(args.get("size", -1))
            size = READ_CHUNK if size < 0 else min(size, READ_CHUNK)
            return self._files[int(args["handle"])].read(size)
        if what == "close":
            stream = self._files.pop(int(args["handle"]), None)
            if stream is not None:
                stream.close()
            return None
        simple = {"md5": files.md5, "exists": files.exists, "delete": files.delete}
        if what in simple:
            return simple[what](name)
        if what == "names":
            return files.names()
        raise CloudException(f"the supervisor has no call 'files.{what}'")


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


class _Pull:
    """An upload, pulled from the sandbox a chunk at a time."""

    def __init__(self, channel: Channel, call_id: Any) -> None:
        self._channel = channel
        self._id = call_id
        self._done = False

    def read(self, size: int = -1, /) -> bytes:
        if self._done:
            return b""
        self._channel.send({"op": "pull", "id": self._id, "size": size if size > 0 else 0})
        header, parts = self._channel.recv()
        if header.get("op") != "chunk" or header.get("id") != self._id or len(parts) != 1:
            raise CloudException("the upload was broken off")
        if not parts[0]:
            self._done = True
        return parts[0]
