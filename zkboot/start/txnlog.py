"""Where the transaction log goes: the configured log dir, or the data dir when the volume already
keeps its log there.

ZooKeeper writes its transaction log (``log.<zxid>``) to ``<dataLogDir>/version-2`` and its snapshots
(``snapshot.<zxid>``) to ``<dataDir>/version-2``.  A volume made with no ``dataLogDir`` (Bitnami's
chart, ``/bitnami/zookeeper/data/version-2``) has both in the data dir; started with a log dir
elsewhere, ZooKeeper refuses it ("Snapshot directory has log files"), and if it did not, it would
start from the snapshots without the log written since.  So the files on the volume decide:

- log files in the data dir's ``version-2`` and none in the log dir's (or no log dir): the data dir
  is the log dir (zoo.cfg's ``dataLogDir`` equal to ``dataDir``, with which ZooKeeper accepts both
  kinds of file in one dir), said in one progress line;
- log files in both: refused, since either choice would leave one log unread;
- otherwise: the configured log dir.

Only log files decide.  Snapshots are read from the data dir alone in either layout, so a snapshot
in the log dir is not this server's data either way (ZooKeeper itself refuses one there when the
two dirs differ).  This module reads the volume and never writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from zkboot.errors import EnvironmentProblem
from zkboot.settings.schema import Settings

VERSION_DIR = "version-2"  # ZooKeeper's on-disk format, under both dirs
LOG_PREFIX = "log."


def holds_logs(directory: Path) -> bool:
    """Whether ``<directory>/version-2`` holds a transaction log file; a missing dir holds none."""
    version = directory / VERSION_DIR
    try:
        with os.scandir(version) as entries:
            return any(e.name.startswith(LOG_PREFIX) and e.is_file() for e in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False  # nothing there yet; a file in a dir's place is check_dirs' to name
    except OSError as exc:
        raise EnvironmentProblem(
            f"{version}: cannot read ({exc.strerror}); expected a readable directory, to tell where the "
            "transaction log is"
        ) from None


@dataclass(frozen=True, slots=True)
class Detected:
    settings: Settings  # with the log dir the volume asks for
    note: str | None = None  # the progress line's text, when that is not the configured one
    warning: str | None = None  # lenient only: why the volume could not tell


def detect(settings: Settings, *, lenient: bool = False) -> Detected:
    """The log dir the volume asks for; EnvironmentProblem when both dirs hold a log, or when a
    ``version-2`` cannot be read.  ``lenient`` (``render``, perhaps run away from the pod, as a
    user the volume is not for): an unreadable one gives a warning and the configured log dir."""
    data, configured = Path(settings.data_dir), Path(settings.data_log_dir)
    if data == configured:
        return Detected(settings)
    label = f"{settings.label('data_log_dir')}={configured}"
    try:
        in_data = holds_logs(data)
        in_configured = in_data and holds_logs(configured)
    except EnvironmentProblem as exc:
        if not lenient:
            raise
        return Detected(settings, warning=f"{exc.problems[0]}; shown with {label} as configured")
    if not in_data:
        return Detected(settings)
    if in_configured:
        raise EnvironmentProblem(
            f"{label}: {data / VERSION_DIR} and {configured / VERSION_DIR} both hold transaction logs "
            f"({LOG_PREFIX}* files); expected one of them (the data dir's, for a volume that keeps its log "
            "there, or the log dir's)"
        )
    found = "holds none" if (configured / VERSION_DIR).is_dir() else "does not exist"
    note = (
        f"{data} (the data dir: {data / VERSION_DIR} holds transaction logs and {configured / VERSION_DIR} "
        f"{found}, so this volume keeps its log in the data dir; {label} not used)"
    )
    values = {**settings.values(), "data_log_dir": settings.data_dir}
    return Detected(Settings(values, settings.sources, settings.legacy_spelling), note)
