"""Run directories, who owns them, and removing what runs killed before their cleanup left behind.

A run's directory ``/var/tmp/podsim-<run>`` appears whole, holding an ``owner`` record, before the
run makes anything else (it is filled under a temporary name and renamed into place); every start
of a pod's container writes ``procs/<pod>``.  A record is ``<pid> <start time>``, the start time
being field 22 of /proc/<pid>/stat: a PID the kernel has since given to another process comes with
another start time, so a record never names a stranger.

``sweep()``, at every Simulation.start(), removes the leftovers of each run whose owner is gone
(no such PID, a zombie, or another start time): it SIGKILLs the recorded process groups whose
leader is still the recorded process, then deletes the run's namespaces, links, /etc/netns entries
and directory.  Names of podsim's form with no run directory at all are removed too (their owner
died before making one, or it was deleted by hand); they have no records, so no process is killed
for them.  A run whose owner is alive is never touched, nor a directory without an owner record.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from podsim import net

# Not under /tmp: a pod's emptyDir on /tmp would hide its other volumes' sources.
RUNS = Path("/var/tmp")
RUN_DIR = re.compile(rf"podsim-({net.RUN_ID})")
STAGING_DIR = re.compile(rf"\.podsim-({net.RUN_ID})-\w+")  # tempfile.mkdtemp's name, before the rename
EXIT_TIMEOUT = 10.0  # seconds for a killed process group's leader to be gone


@dataclass(frozen=True)
class Record:
    pid: int
    start: int  # clock ticks after boot: /proc/<pid>/stat field 22

    @classmethod
    def of(cls, pid: int) -> Record | None:
        """The record of the running process ``pid``; None when there is none."""
        stat = proc_stat(pid)
        return None if stat is None else cls(pid, stat[1])

    @classmethod
    def read(cls, path: Path) -> Record | None:
        try:
            pid, start = path.read_text().split()
            return cls(int(pid), int(start))
        except (OSError, ValueError):
            return None

    def write(self, path: Path) -> None:
        """Written whole or not at all (a temporary file renamed), so a reader never sees half."""
        temporary = path.with_name(f".{path.name}.new")
        temporary.write_text(f"{self.pid} {self.start}\n")
        temporary.rename(path)

    def same_process(self) -> bool:
        """The recorded process still holds its PID (maybe as a zombie, which keeps its group)."""
        stat = proc_stat(self.pid)
        return stat is not None and stat[1] == self.start

    def alive(self) -> bool:
        stat = proc_stat(self.pid)
        return stat is not None and stat[1] == self.start and stat[0] != "Z"


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time) of process ``pid`` from /proc/<pid>/stat; None when there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2, the command name in parentheses, may hold spaces and parentheses: split after it.
    rest = text.rpartition(")")[2].split()
    try:
        return rest[0], int(rest[19])  # fields 3 (state) and 22 (starttime)
    except (IndexError, ValueError):
        return None


def create() -> tuple[str, Path]:
    """A new run id, not used by any run directory or name on this machine, and its directory
    (``owner``, ``logs/``, ``procs/``), which appears whole."""
    owner = Record.of(os.getpid())
    if owner is None:
        raise RuntimeError("podsim needs /proc/<pid>/stat to record who owns a run")
    taken = set(net.leftovers()) | {match.group(1) for _, match in run_dirs()}
    for _ in range(20):  # 16.7 million ids: a collision at all is already unlikely
        run_id = secrets.token_hex(3)
        final = RUNS / f"podsim-{run_id}"
        if run_id in taken or final.exists():
            continue
        staging = Path(tempfile.mkdtemp(prefix=f".podsim-{run_id}-", dir=RUNS))
        try:
            owner.write(staging / "owner")
            (staging / "logs").mkdir()
            (staging / "procs").mkdir()
            staging.rename(final)  # fails if another run took the name meanwhile (its dir is never empty)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            continue
        return run_id, final
    raise RuntimeError(f"no free run id under {RUNS} after 20 tries")


def run_dirs() -> list[tuple[Path, re.Match[str]]]:
    """Every run directory and staging directory under RUNS, with the match naming its run id."""
    found = []
    for path in RUNS.iterdir():
        match = RUN_DIR.fullmatch(path.name) or STAGING_DIR.fullmatch(path.name)
        if match and path.is_dir() and not path.is_symlink():
            found.append((path, match))
    return found


def sweep() -> list[str]:
    """Remove what runs whose owner is gone left behind; their ids."""
    # Names first, directories after: a run makes its directory before any name and removes its
    # names before its directory, so a name seen here whose directory is missing below belongs to
    # no run that is alive.
    names = net.leftovers()
    owners: dict[str, list[tuple[Path, Record | None]]] = {}
    for path, match in run_dirs():
        owners.setdefault(match.group(1), []).append((path, Record.read(path / "owner")))
    removed = []
    for run_id in sorted(set(names) | set(owners)):
        dirs = owners.get(run_id, [])
        if any(owner is None or owner.alive() for _, owner in dirs):
            continue  # alive, or not ours to judge (no owner record: still being made, or older)
        for path, _ in dirs:
            kill_recorded(path / "procs")
        net.remove(names.get(run_id, net.Names()))
        for path, _ in dirs:
            shutil.rmtree(path, ignore_errors=True)
        removed.append(run_id)
    return removed


def kill_recorded(procs: Path) -> None:
    """SIGKILL each recorded process group whose leader is still the recorded process; return once
    those leaders are gone (or zombies) or EXIT_TIMEOUT has passed."""
    killed = []
    for path in sorted(procs.glob("*")) if procs.is_dir() else []:
        record = Record.read(path)
        if record is not None and record.same_process():
            # A container leads its own session, so its PID is its process group's id.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(record.pid, signal.SIGKILL)
            killed.append(record)
    deadline = time.monotonic() + EXIT_TIMEOUT
    while any(record.alive() for record in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
