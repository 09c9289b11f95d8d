"""The hot path's small parts: map chunk sizes, the frame channel's large reads, zero-copy
arguments, kept blobs, and finish notices that carry a result."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from picloud import broker
from picloud.engines.cluster.engine import MAX_CHUNK, chunk_sizes
from picloud.engines.cluster.notices import CARRIED_KEPT, FinishNotices
from picloud.jobs import JobStatus
from picloud.sandbox.channel import Channel
from workers.blobs import Blobs


def _makespan(sizes: list[int], processes: int) -> int:
    """Jobs of equal length the busiest of ``processes`` runs, each taking the next chunk
    as soon as it is free."""
    ends = [0] * processes
    for size in sizes:
        ends[ends.index(min(ends))] += size
    return max(ends)


@pytest.mark.parametrize("processes", [1, 2, 3, 8, 16, 64])
@pytest.mark.parametrize("n", [0, 1, 5, 31, 32, 33, 60, 64, 100, 600, 6000, 10_000, 100_000])
def test_chunk_sizes_cover_the_map_and_let_the_processes_end_together(n, processes) -> None:
    sizes = chunk_sizes(n, processes)
    assert sum(sizes) == n and all(1 <= s <= MAX_CHUNK for s in sizes)
    assert sizes == sorted(sizes, reverse=True)
    assert _makespan(sizes, processes) <= -(-n // processes) + 1  # none waits on another
    if n <= 2 * processes:
        assert sizes == [1] * n  # a small map is spread one job a chunk
    else:  # few messages: about log2(MAX_CHUNK) rounds of ever smaller chunks at the end
        assert len(sizes) <= -(-n // MAX_CHUNK) + processes * 10


def test_a_map_on_two_processes_is_cut_in_halving_pairs() -> None:
    assert chunk_sizes(60, 2) == [15, 15, 8, 8, 4, 4, 2, 2, 1, 1]


def test_a_large_frame_arrives_whole_and_small_ones_around_it_too() -> None:
    left, right = socket.socketpair()
    sender, receiver = Channel(left), Channel(right)
    big = os.urandom(3 << 20)

    def send() -> None:
        sender.send({"op": "a"}, [b"x"])
        sender.send({"op": "big"}, [b"r" * 48, big])
        sender.send({"op": "b"}, [b"y" * 10])

    thread = threading.Thread(target=send)
    thread.start()
    try:
        frames = [receiver.recv() for _ in range(3)]
    finally:
        thread.join()
        sender.close()
        receiver.close()
    assert [h["op"] for h, _ in frames] == ["a", "big", "b"]
    assert frames[1][1] == [b"r" * 48, big] and frames[2][1] == [b"y" * 10]


def test_only_large_bytes_go_to_redis_as_memoryviews() -> None:
    large = b"z" * broker.ZERO_COPY_BYTES
    assert isinstance(broker.zero_copy(large), memoryview)
    assert bytes(broker.zero_copy(large)) == large
    assert broker.zero_copy(b"small") == b"small" and broker.zero_copy(7) == 7


def test_kept_blobs_stay_within_their_budget_oldest_out_first() -> None:
    kept = Blobs(budget=10, largest=6)
    kept.keep("a", b"aaaa")
    kept.keep("b", b"bbbb")
    assert kept.get("a") == b"aaaa"  # a is now the newest
    kept.keep("c", b"cccc")  # over budget: b, the least recently used, goes
    assert kept.get("b") is None and kept.get("a") == b"aaaa" and kept.get("c") == b"cccc"
    kept.keep("huge", b"h" * 7)
    assert kept.get("huge") is None


def _notices() -> FinishNotices:
    return FinishNotices(lambda: None, "pc:reply:test")  # type: ignore[arg-type,return-value]


def test_a_notice_that_carries_a_result_finishes_the_job_and_keeps_it_once() -> None:
    notices = _notices()
    notices._take(b"=41:\x80\x05K\x09.")
    notices._take(b"42:error,43:done")
    assert notices.finished == {41: JobStatus.DONE, 42: JobStatus.ERROR, 43: JobStatus.DONE}
    assert notices.take_result(41) == b"\x80\x05K\x09."
    assert notices.take_result(41) is None and notices.take_result(43) is None
    notices._take(b"=44:x")
    notices.forget([44])
    assert notices.take_result(44) is None and 44 not in notices.finished


def test_carried_results_are_kept_up_to_a_bound() -> None:
    notices = _notices()
    for jid in range(CARRIED_KEPT + 5):
        notices._take(b"=%d:r" % jid)
    assert notices.take_result(0) is None
    assert notices.take_result(CARRIED_KEPT + 4) == b"r"


def test_a_notice_it_cannot_read_raises_value_error_for_the_listener_to_skip() -> None:
    notices = _notices()
    for bad in (b"=x:1", b"7:nonsense", b"\xff\xfe"):
        with pytest.raises(ValueError):
            notices._take(bad)
