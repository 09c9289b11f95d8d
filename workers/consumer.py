"""A pool process's own consumer: a thread that takes chunks straight from Redis and runs them
(workers.chunk), one at a time.

Taking a chunk is one script (lua/take.lua): it pops the chunk from its queue and claims its
jobs under a lease, so a chunk is always either queued or held, and no hand-off sits between
the broker and the process that runs it (Celery's consumer and its pipe to the pool process
cost a millisecond a message). When its queues are empty the process blocks on their wake-up
lists: a token is pushed with each chunk queued, and Redis wakes one blocked process per token.
A token lost with a process killed as it woke is made up for by its replacement, which looks
at the queues before it waits, and at worst (a whole worker lost) by the IDLE_WAIT timeout.

Celery's consumer stays, for Celery's own tasks (cron firings) and control commands."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis

from picloud import broker, keys
from picloud.engines.cluster import scripts
from picloud.engines.cluster.patience import BROKER_FAULTS
from workers.chunk import DRAINED, MAX_ATTEMPTS, ChunkRun, Taken
from workers.context import WorkerContext
from workers.leases import LEASE_SECONDS

log = logging.getLogger("picloud.worker")
#: Seconds an idle process waits for a wake-up token before it looks at its queues anyway.
IDLE_WAIT = 10.0
#: Longest pause between two tries to reach the broker (seconds).
RETRY_AT_MOST = 1.0


class Consumer:
    """Takes and runs the chunks of ``queues`` (first served first) in this process."""

    def __init__(self, queues: list[str], context: WorkerContext) -> None:
        self.queues = queues
        self.context = context
        self._bells = [keys.bell(queue) for queue in queues]
        self._waiter = broker.client(context.url, read_timeout=IDLE_WAIT + 5)
        self._lock = threading.Lock()
        self._busy = False
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="picloud-consumer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """The process exits: a chunk running ends after its running job (the rest of it goes
        to other processes, as in a drain); an idle consumer just stops."""
        with self._lock:
            self._stopping = True
            busy = self._busy
        if busy:
            self.context.slot.drain()
            self._thread.join()

    def _serve(self) -> None:
        woken, taken = "", None
        while True:
            with self._lock:
                if self._stopping or self.context.slot.draining():
                    break
                self._busy = True
            try:
                if taken is None:
                    taken = self._take(woken)
                if taken is not None:
                    taken = self._run(taken)
                    woken = ""
            finally:
                with self._lock:
                    self._busy = False
            if taken is None:
                woken = self._wait()
        if taken is not None:  # taken with the last report as the process stopped
            self._give_back(taken)
        elif woken:  # a token in hand, not used: the next process gets it
            try:
                self._waiter.lpush(keys.bell(woken), 1)
            except redis.RedisError:
                pass

    def _run(self, taken: Taken) -> Taken | None:
        """Run ``taken``; the next chunk, taken with its last report (None: none waits)."""
        run = ChunkRun(taken, self.context, self._follow_up)
        try:
            run.run()
        except Exception:  # a fault of ours: its jobs are handed on when the lease runs out
            log.exception("picloud: chunk %s failed", taken.chunk)
        return None if run.next is None else Taken.of(run.next)

    def _follow_up(self, pipe: Any, again: bool) -> None:
        """Queue the take of this process's next chunk on ``pipe``."""
        scripts.queue(pipe, "take", *self._take_args("", again))

    def _take_args(self, woken: str, again: bool) -> tuple[Any, ...]:
        """take.lua's arguments (see there)."""
        now = time.time()
        owner = self.context.owner
        return (now, owner, now + LEASE_SECONDS, woken, "1" if again else "0", *self.queues)

    def _give_back(self, taken: Taken) -> None:
        """A chunk taken but not started goes back to the head of its queue, uncharged."""
        try:
            scripts.run(
                self.context.redis, "release", time.time(), taken.chunk, self.context.owner,
                taken.first - 1, "finished", DRAINED, MAX_ATTEMPTS,
            )  # fmt: skip
        except redis.RedisError as exc:  # its lease runs out, and the reaper hands it on
            log.warning("picloud: could not give chunk %s back: %s", taken.chunk, exc)

    def _take(self, woken: str) -> Taken | None:
        """The next chunk of this process's queues, claimed; None when they are empty (or the
        process stops while the broker is away). After a broker fault the take is tried
        again as such: if the first one went through, its chunk is this process's still."""
        again, delay = False, 0.05
        while True:
            try:
                reply = scripts.run(self.context.redis, "take", *self._take_args(woken, again))
                return Taken.of(reply)
            except BROKER_FAULTS as exc:
                if not again:
                    log.warning("picloud: lost the broker while taking a chunk (%s)", exc)
                again = True
            except redis.RedisError as exc:  # not the broker's fault: try again later
                log.error("picloud: taking a chunk failed: %s", exc)
                delay = RETRY_AT_MOST
            if self._stopping:
                return None
            time.sleep(delay)
            delay = min(2 * delay, RETRY_AT_MOST)

    def _wait(self) -> str:
        """Block until a chunk may wait in a queue: the queue whose token woke this process,
        or '' (the wait ran out, or the broker was away: look anyway)."""
        try:
            found = self._waiter.blpop(self._bells, timeout=IDLE_WAIT)
        except BROKER_FAULTS:
            time.sleep(RETRY_AT_MOST)
            return ""
        if found is None:
            return ""
        return found[0].decode().removeprefix(keys.bell(""))


_consumer: Consumer | None = None


def start(queues: list[str], context: WorkerContext) -> None:
    """Start this process's consumer."""
    global _consumer
    _consumer = Consumer(queues, context)
    _consumer.start()


def stop() -> None:
    """Stop this process's consumer, if it has one (see Consumer.stop)."""
    if _consumer is not None:
        _consumer.stop()
