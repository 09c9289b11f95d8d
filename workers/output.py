"""A job's stdout/stderr on a worker: appended to Redis line by line while the job runs."""

from __future__ import annotations

import redis

from picloud import keys
from picloud.execution import Output

#: Append at least this often (bytes), even without a newline.
_FLUSH_BYTES = 8192


class RedisStream:
    """A text stream whose lines go to a Redis string with APPEND."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, client: redis.Redis, key: str) -> None:
        self._client = client
        self._key = key
        self._buffer: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        self._buffer.append(text)
        self._size += len(text)
        if "\n" in text or self._size >= _FLUSH_BYTES:
            self.flush()
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._buffer:
            data = "".join(self._buffer).encode("utf-8", errors="replace")
            self._buffer, self._size = [], 0
            try:
                self._client.append(self._key, data)
            except redis.RedisError:  # the broker is away: the job goes on, this output is lost
                pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.flush()


def redis_output(client: redis.Redis, jid: int) -> Output:
    return Output(
        RedisStream(client, keys.output(jid, "stdout")),
        RedisStream(client, keys.output(jid, "stderr")),
    )
