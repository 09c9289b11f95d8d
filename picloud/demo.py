"""``make run``: submit a few jobs the PiCloud way and print what came back."""

from __future__ import annotations

import time

import cloud


def _slow_square(x: int) -> int:
    time.sleep(0.05)
    return x * x


def main() -> None:
    started = time.perf_counter()
    jid = cloud.call(lambda: 3 * 3)
    print(f"cloud.call(lambda: 3*3) -> jid {jid}, result {cloud.result(jid)}")
    jids = cloud.map(lambda x, y: x * y, [1, 3, 5], [2, 4, 6])
    print(f"cloud.map(x*y, [1,3,5], [2,4,6]) -> jids {list(jids)}, results {cloud.result(jids)}")
    squares = cloud.map(_slow_square, range(20), _label="demo")
    print(f"20 jobs of 50 ms each -> {cloud.result(squares)}")
    print(f"status of the first: {cloud.status(squares[0])}; connection: {cloud.connection_info()}")
    print(f"done in {time.perf_counter() - started:.2f} s")
    cloud.close()


if __name__ == "__main__":
    main()
