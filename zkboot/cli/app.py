"""``zkboot start|render|status|shrink|version``: the typer CLI.  Parsing only; the work is elsewhere.

Every setting (zkboot.settings.schema) becomes an option of ``start``, ``render``, ``status`` and
``shrink`` (its kebab-case flag, plus the old underscore spelling), generated from the schema so
the commands, the old scripts and the environment can never drift apart.  ``probe`` and
``metrics`` never reach typer, nor does ``start`` without ``--help``: zkboot.cli.entry hands them
to their own parsers first.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import typer

try:  # typer 0.2x carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # older typer runs on click itself
    from click import exceptions as click_exceptions  # type: ignore[no-redef,import-not-found,unused-ignore]

from zkboot import __version__
from zkboot.cli.outcome import guarded, log_format, typed_log_format
from zkboot.ensemble import shrink as ensemble_shrink
from zkboot.health import status as ensemble_status
from zkboot.options import Option, ProbeOptions
from zkboot.report import Reporter
from zkboot.settings.schema import Settings
from zkboot.start import pipeline

LIGHT_COMMANDS = (
    "Also: zkboot probe live|ready OPTIONS (liveness or readiness of the server on this pod) and "
    "zkboot metrics OPTIONS (mntr as text, prometheus or json); zkboot probe --help lists the options."
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Boot Apache ZooKeeper in a Kubernetes StatefulSet pod, and answer its probes.",
    epilog=LIGHT_COMMANDS,
)


def _parameters(options: Iterable[Option[Any]], panel: str) -> list[inspect.Parameter]:
    params = []
    for option in options:
        annotation: Any = list[str] | None if option.repeatable else str | None
        flag = typer.Option(
            None,
            *option.flags,
            help=f"{option.help} [env: {', '.join(option.env)}]",
            show_default=False,
            metavar=option.metavar,
            rich_help_panel=panel,
        )
        params.append(
            inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=flag, annotation=annotation)
        )
    return params


def with_options(*, probe: Sequence[str] = ()) -> Callable[[Callable[..., int]], Callable[..., None]]:
    """Give the command every setting (and the named probe options) as options; it receives
    them as ``flags`` (settings by name) and ``probe_flags`` (probe options by name)."""
    probe_options = [ProbeOptions.option(name) for name in probe]

    def decorate(func: Callable[..., int]) -> Callable[..., None]:
        own = [
            p
            for p in inspect.signature(func, eval_str=True).parameters.values()
            if p.name not in ("flags", "probe_flags")
        ]
        setting_names = {option.name for option in Settings.options()}

        def command(**kwargs: Any) -> None:
            flags = {name: kwargs.pop(name) for name in list(kwargs) if name in setting_names}
            extra = {"probe_flags": {name: kwargs.pop(name) for name in probe}} if probe else {}
            fmt = log_format(flags.get("log_format"), os.environ)
            code = guarded("zkboot", fmt, lambda: func(flags=flags, **extra, **kwargs))
            if code:
                raise typer.Exit(code)

        command.__name__ = func.__name__
        command.__doc__ = func.__doc__
        params = own + _parameters(Settings.options(), "Settings (flag > environment > default)")
        params += _parameters(probe_options, "How to ask (flag > environment > default)")
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        return command

    return decorate


@app.command()
@with_options()
def start(flags: dict[str, Any]) -> int:
    """Write zoo.cfg, java.env, the log configuration and myid, then exec zkServer.sh start-foreground."""
    pipeline.start("zkboot", flags, os.environ)


@app.command()
@with_options()
def render(
    flags: dict[str, Any],
    output_dir: str | None = typer.Option(
        None,
        "--output-dir",
        metavar="DIR",
        help="write the files under this dir (mirroring their paths) instead of printing",
    ),
    fmt: str = typer.Option("text", "--format", metavar="text|json", help="output format"),
) -> int:
    """Show every file a pod would get (each under a header naming its path); write nothing."""
    return pipeline.render_command("zkboot", flags, os.environ, fmt, output_dir)


@app.command()
@with_options(probe=("timeout", "transport"))
def status(
    flags: dict[str, Any],
    probe_flags: dict[str, str | None],
    fmt: str = typer.Option("table", "--format", metavar="table|json", help="output format"),
) -> int:
    """Every member of this pod's ensemble: reachable, mode, zxid, latency, connections; and a verdict."""
    return ensemble_status.run(flags, probe_flags, os.environ, fmt)


@app.command()
@with_options(probe=("timeout",))
def shrink(
    flags: dict[str, Any],
    probe_flags: dict[str, str | None],
    replicas: int = typer.Option(..., "--replicas", metavar="N", help="the members to keep: ordinals 0..N-1"),
) -> int:
    """Dynamic membership: remove the members with ordinal >= N (before kubectl scale --replicas=N)."""
    return ensemble_shrink.command(flags, probe_flags, os.environ, replicas)


@app.command()
def version() -> None:
    """Print zkboot's version."""
    typer.echo(f"zkboot {__version__}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; usage errors become one line on stderr with exit code 2."""
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = command.main(args=args, prog_name="zkboot", standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:
        # typer's rich help prints itself while the error is built; plain click's does not.
        text = exc.format_message()
        if text.strip():
            sys.stderr.write(text + "\n")
        return 2
    except click_exceptions.UsageError as exc:
        Reporter("zkboot", log_format(typed_log_format(args), os.environ)).error(exc.format_message())
        return 2
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0
