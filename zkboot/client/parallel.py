"""Ask several servers at once, each under the same deadline, and stop waiting at the deadline.

Daemon threads and a bounded join: a name lookup that hangs (getaddrinfo has no timeout) must not
hold the answer past the deadline, nor the process at exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


def ask_all(items: Sequence[Item], ask: Callable[[Item], Answer], seconds: float) -> list[Answer | None]:
    """``ask(item)`` for every item in parallel; None for each that gave no answer within ``seconds``."""
    results: dict[int, Answer] = {}

    def run(index: int, item: Item) -> None:
        results[index] = ask(item)

    threads = [threading.Thread(target=run, args=(i, item), daemon=True) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    end = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    return [results.get(i) for i in range(len(items))]
