"""The two kinds of failure zkboot reports, each with its exit code.

Every error is one line that names the setting or path, what was seen and what was expected.
The entry points print it and exit; nothing prints a traceback for these.
"""

from __future__ import annotations


class ZkbootError(Exception):
    """A failure to report as one line; ``exit_code`` says whose fault it is."""

    exit_code = 1


class UsageError(ZkbootError):
    """Bad flags, bad environment values, bad settings: the caller must change the input."""

    exit_code = 2


class EnvironmentProblem(ZkbootError):
    """The machine is not as needed (unwritable dir, myid mismatch, no ZooKeeper)."""

    exit_code = 1
