"""Put rendered files on disk: check every target first, then create dirs and write atomically.

``check`` runs before anything is created or changed, and looks at every path a write will touch:
each dir to create and every ancestor on the way (a file where a dir must go), the nearest existing
ancestor's permissions, each file target (a dir where a file must go), and myid.  Only then does
``apply`` create dirs and write files, so an error leaves the disk exactly as it was.

Config files (zoo.cfg, java.env, log configuration) are rewritten whole on every start, so nothing
from a previous start survives.  ``myid`` is data: a missing one is written, an existing one must
agree with the derived id or the start stops; nothing else under the data dir is touched, except
temporary files of zkboot's own atomic writes that a killed start left behind.
No chown: zkboot runs as whatever user the pod gives it and says which dir it cannot write.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from zkboot.errors import EnvironmentProblem

if TYPE_CHECKING:  # the type only: the TLS renewal watch writes with this module and stays small
    from zkboot.start.render import RenderedFile

FILE_MODE = 0o644
PRIVATE_MODE = 0o600  # a file that holds a secret (a TLS key store, the JAAS file)
TEMP_SUFFIX = ".tmp"


def temp_prefix(path: Path) -> str:
    """Temporary files of ``write_atomic(path)`` are ``.<name>.<random>.tmp`` beside it."""
    return f".{path.name}."


def check_myid(path: Path, expected: int, hostname: str) -> bool:
    """True when ``path`` already holds ``expected``, False when it is missing; else an error."""
    try:
        seen = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return False
    except IsADirectoryError:
        raise EnvironmentProblem(f"{path}: a directory where myid must go; expected a file or nothing") from None
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot read ({exc.strerror}); expected a readable myid file") from None
    if seen.strip() == str(expected):
        return True
    raise EnvironmentProblem(
        f"{path} holds {seen.strip()!r} but {hostname} is myid {expected}; refusing to start on "
        "another server's data (expected this pod's own volume, or a data dir without myid)"
    )


def check_dirs(dirs: Iterable[str | Path]) -> None:
    """Each dir is a writable dir, or can be made: every existing ancestor is a dir (not a file)
    and the nearest one lets this user create what is missing below it."""
    for directory in dirs:
        path = Path(directory)
        probe = path
        while not probe.is_dir():
            if probe.exists() or probe.is_symlink():
                what = "a file" if probe.is_file() else "not a directory"
                raise EnvironmentProblem(
                    f"{probe}: {what} where a directory must go; expected a directory to hold {path}"
                )
            probe = probe.parent
        if not os.access(probe, os.W_OK | os.X_OK):
            how = "write into it" if probe == path else f"create {path} in it"
            if _read_only(probe):  # readOnlyRootFilesystem without a volume there: no chmod helps
                raise EnvironmentProblem(
                    f"{probe}: cannot {how}: it is on a read-only file system; expected a volume "
                    "mounted there (a pod with readOnlyRootFilesystem writes only to its volumes)"
                )
            raise EnvironmentProblem(
                f"{probe}: cannot {how} as uid {os.geteuid()}; expected a directory writable by "
                "this user (e.g. a volume with fsGroup)"
            )


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_file_target(path: Path) -> None:
    """A file can replace ``path``: nothing there, or a file (a rename cannot replace a dir)."""
    if path.is_dir():
        raise EnvironmentProblem(f"{path}: a directory where a file must go; expected a file or nothing")
    if path.exists() and not path.is_file():
        raise EnvironmentProblem(f"{path}: not a regular file; expected a file or nothing")


def check(files: Sequence[RenderedFile], dirs: Sequence[str], myid: int, hostname: str) -> frozenset[str]:
    """Every check against the disk, before anything is written; the myid paths already in place."""
    check_dirs([*dirs, *(str(Path(f.path).parent) for f in files)])
    present = set()
    for rendered in files:
        path = Path(rendered.path)
        check_file_target(path)
        if rendered.kind == "myid" and check_myid(path, myid, hostname):
            present.add(rendered.path)
    return frozenset(present)


def write_atomic(path: Path, content: str, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``content`` so that a reader (or a crash) sees old or new, never part.

    The new text goes to a temporary file in the same directory, is flushed to disk, and is
    renamed over the old file; the directory is synced so the rename itself survives a crash.
    """
    # Exclusive, mode 0600, no symlink followed: nothing else can have opened it.
    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
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


def stale_temp_files(path: Path) -> list[Path]:
    """Temporary files a killed ``write_atomic(path)`` left beside it (SIGKILL runs no cleanup)."""
    prefix = temp_prefix(path)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    return [path.parent / n for n in sorted(names) if n.startswith(prefix) and n.endswith(TEMP_SUFFIX)]


def apply(
    files: Sequence[RenderedFile],
    dirs: Sequence[str],
    myid_present: frozenset[str],
    report: Callable[[str, str], None],
) -> None:
    """Create missing dirs, write config files, then a missing myid (``check`` already passed)."""
    for directory in [*dirs, *(str(Path(f.path).parent) for f in files)]:
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
        for stale in stale_temp_files(path):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
                report("removed", f"{stale} (left by a start that was killed)")
        if rendered.path in myid_present:
            report("kept", f"{path} (already {rendered.content.strip()})")
            continue
        try:
            write_atomic(path, rendered.content, PRIVATE_MODE if rendered.private else FILE_MODE)
        except OSError as exc:
            raise EnvironmentProblem(f"{path}: cannot write ({exc.strerror}); expected a writable file") from None
        report("wrote", f"{path} ({len(rendered.content.encode())} bytes)")
