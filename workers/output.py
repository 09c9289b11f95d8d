"""Jobs' stdout/stderr on a worker, appended to Redis as they come: the frames a sandbox sends
for what its jobs print, and what they write to the descriptors themselves (counted as the
output of the job running then). Each piece is one APPEND; a job that prints nothing costs
nothing."""

from __future__ import annotations

import redis

from picloud import keys


class JobOutput:
    """Appends output pieces to the jobs' Redis strings."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def write(self, jid: int, stream: str, data: bytes) -> None:
        try:
            self._client.append(keys.output(jid, stream), data)
        except redis.RedisError:  # the broker is away: the job goes on, this output is lost
            pass
