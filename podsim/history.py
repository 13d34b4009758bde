"""Every pod's life in a run, in order: ``Simulation.history()`` and ``creations()`` read it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class PodEvent:
    """One step of a pod's life, in ``Simulation.history()``."""

    at: float  # time.monotonic()
    ordinal: int
    kind: str  # created, ready, unready, terminating, gone
    revision: int  # the revision the pod was created from


class History:
    def __init__(self) -> None:
        # A lock of its own: pods record under their own lock, which the controller takes under its.
        self.lock = threading.Lock()
        self.events: list[PodEvent] = []

    def record(self, ordinal: int, revision: int, kind: str) -> None:
        with self.lock:
            self.events.append(PodEvent(time.monotonic(), ordinal, kind, revision))

    def all(self) -> list[PodEvent]:
        """Every pod's creation, readiness changes, deletion and end, in order."""
        with self.lock:
            return list(self.events)

    def creations(self, ordinal: int) -> int:
        """How many pods ordinal ``ordinal`` has had in this run (1: never deleted and recreated)."""
        return sum(1 for event in self.all() if event.ordinal == ordinal and event.kind == "created")
