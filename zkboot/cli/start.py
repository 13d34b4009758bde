"""The start commands' front end: ``start-zookeeper``, ``zkGenConfig.sh`` and ``zkboot start``.

The old ``start-zookeeper`` took ``--name=value`` options (getopt long options, so ``--name value``
worked too) and ``-h``.  All three accept exactly that, with the old underscore spelling and
zkboot's kebab-case spelling of every setting, and nothing positional; then they run the start
pipeline (zkboot.start.pipeline).  ``zkboot start`` is parsed here rather than by typer: it is
every pod's entrypoint, and typer with what it imports would delay every pod's start.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping, Sequence

from zkboot.cli.outcome import guarded, log_format, typed_log_format
from zkboot.errors import UsageError
from zkboot.options import Option, describe
from zkboot.settings.schema import Settings
from zkboot.start import pipeline

FLAG_TO_OPTION = {flag: option for option in Settings.options() for flag in option.flags}


def parse(args: Sequence[str]) -> dict[str, str | list[str]] | None:
    """Flags by setting name; None when help was asked for."""
    flags: dict[str, str | list[str]] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg in ("-h", "--help"):
            return None
        if not arg.startswith("--"):
            raise UsageError(f"unexpected argument {arg!r}; expected --name=value options only")
        name, has_value, value = arg.partition("=")
        option = FLAG_TO_OPTION.get(name)
        if option is None:
            close = difflib.get_close_matches(name, list(FLAG_TO_OPTION), n=1)
            hint = f"; did you mean {close[0]}?" if close else "; see -h"
            raise UsageError(f"unknown option {name}{hint}")
        if not has_value:
            if index >= len(args):
                raise UsageError(f"{name}: missing value; expected {name}=VALUE")
            value = args[index]
            index += 1
        _store(flags, option, value)
    return flags


def _store(flags: dict[str, str | list[str]], option: Option[object], value: str) -> None:
    if option.repeatable:
        existing = flags.setdefault(option.name, [])
        assert isinstance(existing, list)
        existing.append(value)
    else:
        flags[option.name] = value


def _usage(program: str, summary: str) -> str:
    old = [o for o in Settings.options() if o.legacy]
    others = [o for o in Settings.options() if not o.legacy]
    return (
        f"usage: {program} [--name=value ...]\n{summary}\n\nsettings (flag > environment > default):\n"
        f"{describe(old, legacy_spelling=True)}\n\nzkboot settings also accepted:\n{describe(others)}\n"
    )


def _run(
    program: str, summary: str, argv: Sequence[str] | None, generate_only: bool, *, legacy_spelling: bool = True
) -> int:
    environ: Mapping[str, str] = os.environ
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        flags = parse(args)
    except UsageError as exc:
        error = exc
        return guarded(program, log_format(typed_log_format(args), environ), lambda: _raise(error))
    fmt = log_format(flags.get("log_format") if flags else None, environ)

    def action() -> int:
        if flags is None:
            sys.stdout.write(_usage(program, summary))
            return 0
        if generate_only:
            if "servers" not in flags and "ZK_REPLICAS" not in environ:
                raise UsageError("ZK_REPLICAS is not set; expected the number of servers, e.g. ZK_REPLICAS=3")
            return pipeline.generate(program, flags, environ, legacy_spelling=legacy_spelling)
        pipeline.start(program, flags, environ, legacy_spelling=legacy_spelling)

    return guarded(program, fmt, action)


def _raise(exc: UsageError) -> int:
    raise exc


def start_zookeeper(argv: Sequence[str] | None = None) -> int:
    return _run(
        "start-zookeeper",
        "Write ZooKeeper's configuration for this StatefulSet pod and exec zkServer.sh start-foreground.",
        argv,
        generate_only=False,
    )


def zk_gen_config(argv: Sequence[str] | None = None) -> int:
    return _run(
        "zkGenConfig.sh",
        "Write ZooKeeper's configuration for this StatefulSet pod from ZK_* variables; do not start.",
        argv,
        generate_only=True,
    )


def zkboot_start(argv: Sequence[str]) -> int:
    """``zkboot start`` without ``--help``: the same settings, spellings and errors as the typer
    command (``zkboot start --help`` is typer's)."""
    return _run("zkboot", "", argv, generate_only=False, legacy_spelling=False)


def start_zookeeper_main() -> None:
    sys.exit(start_zookeeper())


def zk_gen_config_main() -> None:
    sys.exit(zk_gen_config())
