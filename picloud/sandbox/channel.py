"""Frames between a sandbox and its supervisor: a JSON header and raw byte parts.

Neither side unpickles what the other sends (the supervisor must not trust the sandbox), so
values travel through ``pack``/``unpack``: JSON plus bytes, datetimes, ranges and dicts with
non-string keys. Sizes are checked before anything is allocated."""

from __future__ import annotations

import datetime
import json
import socket
import struct
import threading
from collections.abc import Callable, Sequence
from typing import Any

_PREFIX = struct.Struct("!II")  # header length, number of parts
_LENGTH = struct.Struct("!Q")
#: A frame's header size and part count at most (a map of a million jobs is one frame).
MAX_HEADER = 64 << 20
MAX_PARTS = 4 << 20
#: Bytes of all parts of one frame at most (a job's result above it fails the job).
MAX_FRAME = 1 << 30
#: Frames with parts smaller than this in all go out in one write.
_JOINED = 1 << 20
#: Bytes asked of the socket at least, per read.
_READ = 1 << 16
#: Reads at least this much larger than what is held go straight into their own buffer.
_DIRECT = 1 << 20

Frame = tuple[dict[str, Any], list[bytes]]


class ChannelClosed(EOFError):
    """The other side is gone."""


class BadFrame(ValueError):
    """A frame that breaks the format or its limits."""


class Channel:
    """One end of a stream socket carrying frames (``send`` is thread-safe)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()
        #: bytes received and not yet taken (a frame is mostly read in one system call)
        self._held = bytearray()

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def buffered(self) -> bool:
        """Whether a frame may be waiting in this end's buffer (select() cannot see it)."""
        return bool(self._held)

    def send(self, header: dict[str, Any], parts: Sequence[bytes] = ()) -> None:
        head = frame_head(header, parts)
        small = sum(map(len, parts)) < _JOINED
        with self._send_lock:
            try:
                if small:  # one system call
                    self.sock.sendall(b"".join([head, *parts]))
                else:
                    self.sock.sendall(head)
                    for part in parts:
                        self.sock.sendall(part)
            except OSError as exc:
                raise ChannelClosed(str(exc)) from None

    def recv(self) -> Frame:
        return read_frame(self._exact)

    def _exact(self, size: int) -> bytes:
        held = self._held
        if size - len(held) >= _DIRECT:
            return self._direct(size)
        while len(held) < size:
            try:
                data = self.sock.recv(max(size - len(held), _READ))
            except OSError as exc:
                raise ChannelClosed(str(exc)) from None
            if not data:
                raise ChannelClosed("the other end closed the channel")
            held += data
        taken = bytes(held[:size])
        del held[:size]
        return taken

    def _direct(self, size: int) -> bytes:
        """``size`` bytes read into one buffer made for them (a large result or argument:
        ``recv(size)`` would allocate ``size`` bytes for each piece the socket hands over)."""
        out = bytearray(size)
        have = len(self._held)
        out[:have] = self._held
        self._held.clear()
        view = memoryview(out)
        while have < size:
            try:
                got = self.sock.recv_into(view[have:])
            except OSError as exc:
                raise ChannelClosed(str(exc)) from None
            if not got:
                raise ChannelClosed("the other end closed the channel")
            have += got
        return out  # type: ignore[return-value]  # a bytearray reads as bytes from here on

    def close(self) -> None:
        self.sock.close()


def frame_head(header: dict[str, Any], parts: Sequence[bytes]) -> bytes:
    """The bytes of a frame before its parts."""
    data = json.dumps(header, separators=(",", ":")).encode()
    lengths = b"".join([_LENGTH.pack(len(part)) for part in parts])
    return _PREFIX.pack(len(data), len(parts)) + lengths + data


def read_frame(exact: Callable[[int], bytes]) -> Frame:
    """One frame, read by ``exact(n)`` (n bytes or an error); BadFrame if it breaks the format
    or its limits (checked before anything is allocated)."""
    size, count = _PREFIX.unpack(exact(_PREFIX.size))
    if size > MAX_HEADER or count > MAX_PARTS:
        raise BadFrame(f"a frame header of {size} bytes with {count} parts")
    lengths = list(struct.unpack(f"!{count}Q", exact(_LENGTH.size * count)))
    if sum(lengths) > MAX_FRAME:
        raise BadFrame(f"a frame of {sum(lengths):,} bytes (at most {MAX_FRAME:,})")
    try:
        header = json.loads(exact(size))
    except ValueError as exc:
        raise BadFrame(f"a frame header that is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise BadFrame("a frame header that is not an object")
    body = memoryview(exact(sum(lengths)))
    parts, at = [], 0
    for length in lengths:
        parts.append(bytes(body[at : at + length]))
        at += length
    return header, parts


def encode_frame(header: dict[str, Any], parts: Sequence[bytes] = ()) -> bytes:
    """A whole frame as bytes (an HTTP body)."""
    return b"".join([frame_head(header, parts), *parts])


def decode_frame(data: bytes) -> Frame:
    """The frame ``data`` holds, all of it; BadFrame for anything else."""
    view = memoryview(data)
    at = 0

    def exact(size: int) -> bytes:
        nonlocal at
        if at + size > len(view):
            raise BadFrame(f"a frame cut short: {len(view)} bytes")
        taken = bytes(view[at : at + size])
        at += size
        return taken

    try:
        frame = read_frame(exact)
    except struct.error as exc:
        raise BadFrame(f"a frame cut short: {exc}") from None
    if at != len(view):
        raise BadFrame(f"{len(view) - at} bytes after the frame")
    return frame


def pack(value: Any, parts: list[bytes]) -> Any:
    """``value`` as JSON-able data; its bytes are appended to ``parts`` and named by index."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        parts.append(bytes(value))
        return {"$b": len(parts) - 1}
    if isinstance(value, datetime.datetime):
        return {"$dt": value.timestamp()}
    if isinstance(value, range):
        return {"$r": [value.start, value.stop, value.step]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: pack(v, parts) for k, v in value.items()}
        return {"$map": [[pack(k, parts), pack(v, parts)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [pack(v, parts) for v in value]
    raise TypeError(f"a {type(value).__name__} cannot cross the sandbox channel")


def unpack(data: Any, parts: Sequence[bytes]) -> Any:
    """The value ``pack`` made (BadFrame for anything it could not have made)."""
    if isinstance(data, list):
        return [unpack(v, parts) for v in data]
    if not isinstance(data, dict):
        return data
    try:
        if "$b" in data:
            return parts[int(data["$b"])]
        if "$dt" in data:
            return datetime.datetime.fromtimestamp(float(data["$dt"]), datetime.UTC)
        if "$r" in data:
            return range(*(int(v) for v in data["$r"]))
        if "$map" in data:
            return {_key(unpack(k, parts)): unpack(v, parts) for k, v in data["$map"]}
    except (IndexError, TypeError, ValueError, OverflowError) as exc:
        raise BadFrame(f"a value the channel cannot carry: {exc}") from None
    return {k: unpack(v, parts) for k, v in data.items()}


def _key(value: Any) -> Any:
    if isinstance(value, list):  # a tuple key
        return tuple(value)
    return value
