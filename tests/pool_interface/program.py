"""A small multiprocessing.Pool program. ``main(pool)`` runs it on ``pool``: a
``multiprocessing.Pool`` or, unchanged, ``cloud.pool_interface`` (the swap is the import)."""

from __future__ import annotations


def square(x):
    return x * x


def power(base, exponent):
    return base**exponent


def main(pool) -> list[str]:
    """Every Pool function the reference lists; what the program would print, line by line."""
    out = [f"apply {pool.apply(power, (2, 10))}"]
    collected = []
    pending = pool.apply_async(power, (3, 3), callback=collected.append)
    out.append(f"apply_async {pending.get(timeout=60)} callback {collected}")
    out.append(f"ready {pending.ready()} successful {pending.successful()}")
    out.append(f"map {pool.map(square, range(10))}")
    many = pool.map_async(square, [1, 2, 3])
    many.wait()
    out.append(f"map_async {many.get()} ready {many.ready()}")
    out.append(f"imap {list(pool.imap(square, range(5)))}")
    out.append(f"imap chunked {list(pool.imap(square, range(5), chunksize=2))}")
    out.append(f"imap_unordered {sorted(pool.imap_unordered(square, range(5)))}")
    out.append(f"empty map {pool.map(square, [])}")
    return out
