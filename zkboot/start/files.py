"""Put rendered files on disk: check everything first, then write each file atomically.

Config files (zoo.cfg, java.env, log configuration) are rewritten whole on every start, so nothing
from a previous start survives.  ``myid`` is data: a missing one is written, an existing one must
agree with the derived id or the start stops; nothing else under the data dir is touched.
No chown: zkboot runs as whatever user the pod gives it and says which dir it cannot write.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from zkboot.errors import EnvironmentProblem
from zkboot.start.render import RenderedFile

FILE_MODE = 0o644


def check_myid(path: Path, expected: int, hostname: str) -> bool:
    """True when ``path`` already holds ``expected``, False when it is missing; else an error."""
    try:
        seen = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot read ({exc.strerror}); expected a readable myid file") from None
    if seen.strip() == str(expected):
        return True
    raise EnvironmentProblem(
        f"{path} holds {seen.strip()!r} but {hostname} is myid {expected}; refusing to start on "
        "another server's data (expected this pod's own volume, or a data dir without myid)"
    )


def check_writable(dirs: Iterable[str]) -> None:
    """Each dir exists and is writable, or can be created: else name the first that is not."""
    for directory in dirs:
        path = Path(directory)
        probe = path
        while not probe.exists():
            probe = probe.parent
        if not probe.is_dir():
            raise EnvironmentProblem(f"{probe}: not a directory; expected a directory to hold {path}")
        if not os.access(probe, os.W_OK | os.X_OK):
            what = "write into" if probe == path else f"create {path} in"
            raise EnvironmentProblem(
                f"{probe}: cannot {what} it as uid {os.geteuid()}; expected a directory writable by "
                "this user (e.g. a volume with fsGroup)"
            )


def write_atomic(path: Path, content: str, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``content`` so that a reader (or a crash) sees old or new, never part.

    The new text goes to a temporary file in the same directory, is flushed to disk, and is
    renamed over the old file; the directory is synced so the rename itself survives a crash.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def apply(
    files: Sequence[RenderedFile],
    dirs: Sequence[str],
    myid_present: bool,
    report: Callable[[str, str], None],
) -> None:
    """Create missing dirs, write config files, then a missing myid (checks already passed)."""
    for directory in dirs:
        path = Path(directory)
        if not path.is_dir():
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise EnvironmentProblem(
                    f"{path}: cannot create ({exc.strerror}); expected a writable parent"
                ) from None
            report("created", str(path))
    for rendered in files:
        path = Path(rendered.path)
        if rendered.kind == "myid" and myid_present:
            report("kept", f"{path} (already {rendered.content.strip()})")
            continue
        try:
            write_atomic(path, rendered.content)
        except OSError as exc:
            raise EnvironmentProblem(f"{path}: cannot write ({exc.strerror}); expected a writable file") from None
        report("wrote", f"{path} ({len(rendered.content.encode())} bytes)")
