"""The probes' front end: probes and metrics, run every few seconds in every pod.

    zkboot probe live|ready [options]     zookeeper-ready [PORT] [options]     zkOk.sh
    zkboot metrics [--format F] [options] zookeeper-metrics [PORT] [options]   zkMetrics.sh

The options are ``zkboot.options.ProbeOptions`` (flag > environment > default); ``--help`` lists
them.  A dozen options, parsed by hand: the kubelet runs a probe every few seconds in every pod,
so the probe path loads nothing heavy (no typer, kazoo, jinja2 or psutil).
Exit codes: 0 pass, 1 fail (one line on stderr saying why), 2 usage.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from zkboot.client.endpoint import Endpoint
from zkboot.errors import QueryError, UsageError
from zkboot.health.probes import CHECKS, endpoint_for
from zkboot.options import ProbeOptions, Raw, describe

FLAGS = {option.flag: option.name for option in ProbeOptions.options()}


class Help(Exception):
    """``-h``/``--help``: print the usage and exit 0."""


def given_on_command_line(args: Sequence[str], positional_port: bool) -> dict[str, str | Raw]:
    """Option texts by option name, as typed."""
    given: dict[str, str | Raw] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-h", "--help"):
            raise Help
        if positional_port and arg.isascii() and arg.isdigit() and "port" not in given:
            given["port"] = Raw(arg, "PORT")
            continue
        if not arg.startswith("--"):
            raise UsageError(f"unexpected argument {arg!r}; see --help")
        flag, has_value, value = arg[2:].partition("=")
        if flag not in FLAGS:
            raise UsageError(f"unknown option --{flag}; see --help")
        if not has_value:
            if not rest:
                raise UsageError(f"--{flag}: missing value")
            value = rest.pop(0)
        given[FLAGS[flag]] = value
    return given


def parse(args: Sequence[str], environ: Mapping[str, str], positional_port: bool = False) -> ProbeOptions:
    """The options from the command line, the environment and the defaults."""
    return ProbeOptions.resolve(given_on_command_line(args, positional_port), environ)


def emit(program: str, text: str, what: str) -> int:
    """Write ``text`` to stdout now: 0, or 1 with one line on stderr when it cannot be (``| head -c0``)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        # As Python's documentation advises for a closed pipe: point stdout at /dev/null, or the
        # interpreter's own flush at exit fails again and turns the exit code into 120.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.stderr.write(f"{program}: cannot write the {what}: {exc.strerror or exc}\n")
        return 1
    return 0


def _usage(program: str) -> int:
    options = describe(ProbeOptions.options())
    return emit(
        program, f"usage: {program} ...\n{__doc__}\noptions (flag > environment > default):\n{options}\n", "usage"
    )


def _reach(program: str, args: Sequence[str], positional_port: bool) -> tuple[ProbeOptions, Endpoint] | int:
    """The options and the endpoint they describe; else the exit code, once usage or its error is out."""
    try:
        options = parse(args, os.environ, positional_port)
        return options, endpoint_for(options)
    except Help:
        return _usage(program)
    except UsageError as exc:
        sys.stderr.write(f"{program}: error: {exc.problems[0]}\n")
    except OSError as exc:  # TLS files that do not load
        sys.stderr.write(f"{program}: error: {exc}\n")
    return 2


def run_probe(program: str, check: str, args: Sequence[str], positional_port: bool = False) -> int:
    reached = _reach(program, args, positional_port)
    if isinstance(reached, int):
        return reached
    reason = CHECKS[check](reached[1])
    if reason is not None:
        sys.stderr.write(f"{program}: {reason}\n")
        return 1
    return 0


def run_metrics(program: str, args: Sequence[str], positional_port: bool = False) -> int:
    from zkboot.health.metrics import RENDERERS  # only metrics need its formats

    reached = _reach(program, args, positional_port)
    if isinstance(reached, int):
        return reached
    options, endpoint = reached
    try:
        mntr = endpoint.mntr()
    except QueryError as exc:
        sys.stderr.write(f"{program}: no metrics ({exc.kind}): {exc.detail}\n")
        return 1
    return emit(program, RENDERERS[options.format](mntr), "metrics")


def probe_or_metrics(args: Sequence[str]) -> int | None:
    """``zkboot probe ...`` and ``zkboot metrics ...``; None for every other command."""
    if args[:1] == ["probe"]:
        if len(args) < 2 or args[1] not in ("live", "ready"):
            if args[1:2] in (["-h"], ["--help"]):
                return _usage("zkboot probe live|ready")
            sys.stderr.write("zkboot probe: error: expected live or ready, e.g. zkboot probe ready --port 2181\n")
            return 2
        return run_probe(f"zkboot probe {args[1]}", args[1], args[2:])
    if args[:1] == ["metrics"]:
        return run_metrics("zkboot metrics", args[1:])
    return None


def zookeeper_ready() -> None:
    sys.exit(run_probe("zookeeper-ready", "live", sys.argv[1:], positional_port=True))


def zk_ok() -> None:
    sys.exit(run_probe("zkOk.sh", "live", sys.argv[1:]))


def zookeeper_metrics() -> None:
    sys.exit(run_metrics("zookeeper-metrics", sys.argv[1:], positional_port=True))


def zk_metrics() -> None:
    sys.exit(run_metrics("zkMetrics.sh", sys.argv[1:]))
