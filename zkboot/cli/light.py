"""The light entry points: probes and metrics, run every few seconds in every pod.

No typer, jinja2, kazoo or psutil here, and no argparse either: a dozen options are parsed by
hand so that a probe costs little more than the interpreter's own start.

    zkboot probe live|ready [options]     zookeeper-ready [PORT] [options]     zkOk.sh
    zkboot metrics [--format F] [options] zookeeper-metrics [PORT] [options]   zkMetrics.sh

Options (flag > environment > default):
    --host H          ZK_PROBE_HOST        127.0.0.1 (not localhost: it may resolve to ::1 first)
    --port P          ZK_CLIENT_PORT       2181 (the secureClientPort with --transport tls)
    --timeout S       ZK_PROBE_TIMEOUT     0.8: the whole exchange, so that with the interpreter's
                                           start it ends inside Kubernetes' default 1 s timeoutSeconds
    --transport T     ZK_PROBE_TRANSPORT   tcp (four-letter words), tls, or http (admin server)
    --admin-port P    ZK_ADMIN_PORT        8080 (with --transport http)
    --tls-ca F        ZK_PROBE_TLS_CA      CA bundle; the chain is verified when given
    --tls-cert F      ZK_PROBE_TLS_CERT    client certificate, for servers that require one
    --tls-key F       ZK_PROBE_TLS_KEY     its key
    --format F        ZK_METRICS_FORMAT    text, prometheus or json (metrics only)
Exit codes: 0 pass, 1 fail (one line on stderr saying why), 2 usage.
"""

from __future__ import annotations

import os
import sys

from zkboot.client.endpoint import TRANSPORTS, Endpoint, tls_context
from zkboot.client.fourlw import FourLetterError

TYPE_CHECKING = False  # collections.abc and typing cost a probe milliseconds to import
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

DEFAULT_TIMEOUT = 0.8


class Usage(Exception):
    pass


def _port(text: str, name: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise Usage(f"{name}={text!r}: expected an integer from 1 to 65535")
    return int(text)


def _timeout(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 300:
        raise Usage(f"{name}={text!r}: expected seconds, more than 0 and at most 300")
    return value


def _transport(text: str, name: str) -> str:
    if text not in TRANSPORTS:
        raise Usage(f"{name}={text!r}: expected one of {', '.join(TRANSPORTS)}")
    return text


def _host(text: str, name: str) -> str:
    if not text.strip() or any(ch.isspace() for ch in text.strip()):
        raise Usage(f"{name}={text!r}: expected a host name or address")
    return text.strip()


def _path(text: str, name: str) -> str:
    if not os.path.isfile(text):
        raise Usage(f"{name}={text!r}: expected an existing file")
    return text


def _format(text: str, name: str) -> str:
    if text not in ("text", "prometheus", "json"):
        raise Usage(f"{name}={text!r}: expected text, prometheus or json")
    return text


OPTIONS: dict[str, tuple[str, str | None, Callable[[str, str], object]]] = {
    "host": ("ZK_PROBE_HOST", "127.0.0.1", _host),
    "port": ("ZK_CLIENT_PORT", "2181", _port),
    "timeout": ("ZK_PROBE_TIMEOUT", str(DEFAULT_TIMEOUT), _timeout),
    "transport": ("ZK_PROBE_TRANSPORT", "tcp", _transport),
    "admin-port": ("ZK_ADMIN_PORT", "8080", _port),
    "tls-ca": ("ZK_PROBE_TLS_CA", None, _path),
    "tls-cert": ("ZK_PROBE_TLS_CERT", None, _path),
    "tls-key": ("ZK_PROBE_TLS_KEY", None, _path),
    "format": ("ZK_METRICS_FORMAT", "text", _format),
}


Given = dict[str, tuple[str, str]]  # option name -> (text, where it came from)


def parse(args: Sequence[str], environ: Mapping[str, str], positional_port: bool) -> dict[str, object]:
    """Options by name from the command line, the environment and the defaults."""
    return resolve(given_on_command_line(args, positional_port), environ)


def given_on_command_line(args: Sequence[str], positional_port: bool) -> Given:
    given: Given = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-h", "--help"):
            raise Usage("help")
        if positional_port and arg.isascii() and arg.isdigit() and "port" not in given:
            given["port"] = (arg, "PORT")
            continue
        if not arg.startswith("--"):
            raise Usage(f"unexpected argument {arg!r}; see --help")
        name, has_value, value = arg[2:].partition("=")
        if name not in OPTIONS:
            raise Usage(f"unknown option --{name}; see --help")
        if not has_value:
            if not rest:
                raise Usage(f"--{name}: missing value")
            value = rest.pop(0)
        given[name] = (value, f"--{name}")
    return given


def resolve(given: Given, environ: Mapping[str, str]) -> dict[str, object]:
    """Each option from ``given``, else its variable (if not empty), else its default; checked."""
    values: dict[str, object] = {}
    for name, (env, default, check) in OPTIONS.items():
        if name in given:
            text, source = given[name]
        elif environ.get(env, "").strip():
            text, source = environ[env].strip(), env
        elif default is not None:
            text, source = default, "default"
        else:
            values[name] = None
            continue
        values[name] = check(text, source)
    return values


def endpoint(options: Mapping[str, object]) -> Endpoint:
    transport = str(options["transport"])
    tls = None
    if transport == "tls":
        tls = tls_context(_opt(options, "tls-ca"), _opt(options, "tls-cert"), _opt(options, "tls-key"))
    return Endpoint(
        host=str(options["host"]),
        port=int(str(options["port"])),
        timeout=float(str(options["timeout"])),
        transport=transport,
        admin_port=int(str(options["admin-port"])),
        tls=tls,
    )


def _opt(options: Mapping[str, object], name: str) -> str | None:
    value = options.get(name)
    return None if value is None else str(value)


def _usage(program: str) -> int:
    sys.stdout.write(f"usage: {program} ...\n{__doc__}")
    return 0


def run_probe(program: str, check: str, args: Sequence[str], positional_port: bool = False) -> int:
    from zkboot.health.probes import CHECKS

    try:
        options = parse(args, os.environ, positional_port)
        reason = CHECKS[check](endpoint(options))
    except Usage as exc:
        if str(exc) == "help":
            return _usage(program)
        sys.stderr.write(f"{program}: error: {exc}\n")
        return 2
    except OSError as exc:  # TLS files that do not load
        sys.stderr.write(f"{program}: error: {exc}\n")
        return 2
    if reason is not None:
        sys.stderr.write(f"{program}: {reason}\n")
        return 1
    return 0


def run_metrics(program: str, args: Sequence[str], positional_port: bool = False) -> int:
    from zkboot.health.metrics import RENDERERS

    try:
        options = parse(args, os.environ, positional_port)
        mntr = endpoint(options).mntr()
    except Usage as exc:
        if str(exc) == "help":
            return _usage(program)
        sys.stderr.write(f"{program}: error: {exc}\n")
        return 2
    except FourLetterError as exc:
        sys.stderr.write(f"{program}: no metrics ({exc.kind}): {exc.detail}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"{program}: error: {exc}\n")
        return 2
    sys.stdout.write(RENDERERS[str(options["format"])](mntr))
    return 0


def zkboot_light(args: Sequence[str]) -> int | None:
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
