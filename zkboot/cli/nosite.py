"""``python -m zkboot.cli.nosite [DIR]``: make the installed probe scripts start without ``site``.

``site`` is a quarter of the interpreter's start (the venv, the ``.pth`` files, the user site and
the ``os`` module it imports): about 3 ms of CPU in every probe, every few seconds, in every pod.
pip writes an installed script's ``#!`` line as the bare interpreter and drops any flag it had,
so the image runs this once after ``pip install``.  Each of zkboot's scripts in DIR (default: this
interpreter's scripts directory) gets ``-S`` on its ``#!`` line and one line that appends the
directory zkboot was imported from to ``sys.path``.  The probe path needs nothing more: it imports
only zkboot and the standard library.  Every other ``zkboot`` command runs
``site.main()`` first (zkboot.cli.entry), so it sees the installation as it would without ``-S``.

Run again, it writes the same files.  Every script is read and checked before the first is
written; each is replaced atomically (a new file renamed over it), keeping its mode.
Exit codes: 0 done, 1 a file that cannot be read or written, 2 usage or a file that is not zkboot's.
"""

import os
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

import zkboot
from zkboot.errors import EnvironmentProblem, UsageError, ZkbootError

PROGRAM = "python -m zkboot.cli.nosite"
# The scripts under bin/ (pyproject's script-files); start-zookeeper and zkGenConfig.sh are pip's
# generated wrappers, run once per pod start, and keep site.
SCRIPTS = ("zkboot", "zookeeper-ready", "zkOk.sh", "zookeeper-metrics", "zkMetrics.sh")
MARK = f"# added by {PROGRAM}"


def package_root() -> str:
    """The directory zkboot was imported from (site-packages, or the checkout of an editable install)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(zkboot.__file__)))


def without_site(text: str, path: Path, root: str) -> str:
    """The script ``text`` rewritten to start with ``-S`` and find zkboot under ``root``."""
    lines = text.splitlines(keepends=True)
    first = lines[0].rstrip("\n") if lines else ""
    interpreter = first[2:].removesuffix(" -S")
    if not first.startswith("#!/") or not interpreter or any(ch.isspace() for ch in interpreter):
        raise UsageError(f"{path}: first line {first[:80]!r}: expected #! and the absolute path of an interpreter")
    if "from zkboot.cli." not in text:
        raise UsageError(f"{path}: no 'from zkboot.cli.' import: expected one of zkboot's installed scripts")
    body = [line for line in lines[1:] if not line.rstrip("\n").endswith(MARK)]
    comments = next((i for i, line in enumerate(body) if not line.startswith("#")), len(body))
    path_line = f"import sys; sys.path.append({root!r})  {MARK}\n"
    return f"#!{interpreter} -S\n{''.join(body[:comments])}{path_line}{''.join(body[comments:])}"


def plan(directory: Path, root: str) -> list[tuple[Path, str]]:
    """(path, new text) of every script that changes; all read and checked, nothing written."""
    if not directory.is_dir():
        raise EnvironmentProblem(f"DIR={directory}: not a directory: expected where pip installed zkboot's scripts")
    changes = []
    for name in SCRIPTS:
        path = directory / name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise EnvironmentProblem(f"{path}: cannot read it ({reason}): expected zkboot's installed script") from None
        new = without_site(text, path, root)
        if new != text:
            changes.append((path, new))
    if changes and not os.access(directory, os.W_OK):
        raise EnvironmentProblem(f"DIR={directory}: not writable: expected a directory this user may write")
    return changes


def write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.nosite")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.chmod(path.stat().st_mode & 0o7777)
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise EnvironmentProblem(f"{path}: cannot replace it ({exc.strerror})") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write(f"usage: {PROGRAM} [DIR]\n\n{__doc__}")
        return 0
    if len(args) > 1 or (args and args[0].startswith("-")):
        sys.stderr.write(f"{PROGRAM}: error: expected at most one argument, DIR; got {' '.join(args)}\n")
        return 2
    directory = Path(args[0] if args else sysconfig.get_path("scripts"))
    root = package_root()
    try:
        for path, text in plan(directory, root):
            write(path, text)
    except ZkbootError as exc:
        sys.stderr.write(f"{PROGRAM}: error: {exc.problems[0]}\n")
        return exc.exit_code
    sys.stdout.write(f"{PROGRAM}: {', '.join(SCRIPTS)} in {directory} run with -S and zkboot from {root}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
