"""What every front end does around a command: its errors as one line each, in the chosen format, and its exit code."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from zkboot.errors import ZkbootError
from zkboot.options import Invalid
from zkboot.report import Reporter
from zkboot.settings.schema import Settings


def log_format(given: str | Sequence[str] | None, environ: Mapping[str, str]) -> str:
    """The format of zkboot's own lines (flag > ZK_LOG_FORMAT > text), read before anything else
    so that errors found later come out in it; a bad value is reported later, and meanwhile text."""
    option = Settings.log_format
    try:
        return option.value(option.raws(given, environ, "--" + option.flag)) or "text"
    except Invalid:
        return "text"


def typed_log_format(args: Sequence[str]) -> str | None:
    """``--log-format`` as typed, for errors found while the arguments themselves are parsed."""
    for index, arg in enumerate(args):
        name, has_value, value = arg.partition("=")
        if name in ("--log-format", "--log_format"):
            if has_value:
                return value
            return args[index + 1] if index + 1 < len(args) else None
    return None


def guarded(program: str, fmt: str, action: Callable[[], int]) -> int:
    """Run ``action``; report a ZkbootError as one line per problem and return its exit code."""
    try:
        return action()
    except ZkbootError as exc:
        report = Reporter(program, fmt)
        for problem in exc.problems:
            report.error(problem)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
