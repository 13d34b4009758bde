"""Ask several servers at once, each under the same deadline, and stop waiting at the deadline.

Daemon threads and a bounded join: a name lookup that hangs (getaddrinfo has no timeout) must not
hold the answer past the deadline, nor the process at exit.  At most MAX_THREADS threads, whatever
the number of items: an item still waiting for one at the deadline gets no answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")

MAX_THREADS = 16


def ask_all(items: Sequence[Item], ask: Callable[[Item], Answer], seconds: float) -> list[Answer | None]:
    """``ask(item)`` for every item in parallel; None for each that gave no answer within ``seconds``."""
    results: dict[int, Answer] = {}
    end = time.monotonic() + seconds
    lock = threading.Lock()
    pending = list(enumerate(items))
    pending.reverse()

    def run() -> None:
        while time.monotonic() < end:
            with lock:
                if not pending:
                    return
                index, item = pending.pop()
            results[index] = ask(item)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(min(len(items), MAX_THREADS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    with lock:
        pending.clear()  # a thread that finishes late takes no new item
    return [results.get(i) for i in range(len(items))]
