"""SimulationError: what podsim refuses or fails at, told in one line."""

from __future__ import annotations


class SimulationError(Exception):
    pass
