"""``zkboot``: the one CLI (typer).  Parsing only; the work is in ``zkboot.actions``.

Every setting of ``zkboot.settings.SCHEMA`` becomes an option of ``start`` and ``render`` (its
kebab-case flag, plus the old underscore spelling), generated from the schema so the two
commands, the old scripts and the environment can never drift apart.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer

try:  # typer 0.2x carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # older typer runs on click itself
    from click import exceptions as click_exceptions  # type: ignore[no-redef,import-not-found,unused-ignore]

from zkboot import __version__
from zkboot.cli import light as probecli
from zkboot.settings import SCHEMA, SPECS
from zkboot.start import actions

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Boot Apache ZooKeeper in a Kubernetes StatefulSet pod, and answer its probes.",
)


def _setting_parameters() -> list[inspect.Parameter]:
    params = []
    for spec in SCHEMA:
        annotation: Any = list[str] | None if spec.repeatable else str | None
        option = typer.Option(
            None,
            *spec.flags,
            help=f"{spec.help} [env: {', '.join(spec.env)}]",
            show_default=False,
            metavar="KEY=VALUE" if spec.repeatable else "VALUE",
            rich_help_panel="Settings (flag > environment > default)",
        )
        params.append(
            inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)
        )
    return params


def with_settings(func: Callable[..., int]) -> Callable[..., None]:
    """Give ``func`` every setting as an option; it receives them as one ``flags`` dict."""
    own = [p for p in inspect.signature(func, eval_str=True).parameters.values() if p.name != "flags"]

    def command(**kwargs: Any) -> None:
        flags = {name: kwargs.pop(name) for name in list(kwargs) if name in SPECS}
        code = func(flags=flags, **kwargs)
        if code:
            raise typer.Exit(code)

    command.__name__ = func.__name__
    command.__doc__ = func.__doc__
    command.__signature__ = inspect.Signature(own + _setting_parameters())  # type: ignore[attr-defined]
    return command


@app.command()
@with_settings
def start(flags: dict[str, Any]) -> int:
    """Write zoo.cfg, java.env, the log configuration and myid, then exec zkServer.sh start-foreground."""
    return actions.guarded("zkboot", os.environ, lambda: actions.start("zkboot", flags, os.environ))


@app.command()
@with_settings
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
    return actions.guarded("zkboot", os.environ, lambda: actions.render("zkboot", flags, os.environ, fmt, output_dir))


@app.command()
@with_settings
def status(
    flags: dict[str, Any],
    fmt: str = typer.Option("table", "--format", metavar="table|json", help="output format"),
    timeout: str | None = typer.Option(None, "--timeout", metavar="SECONDS", help="per member [env: ZK_PROBE_TIMEOUT]"),
    transport: str | None = typer.Option(
        None, "--transport", metavar="tcp|tls|http", help="how to ask [env: ZK_PROBE_TRANSPORT]"
    ),
) -> int:
    """Every member of this pod's ensemble: reachable, mode, zxid, latency, connections; and a verdict."""
    return actions.guarded(
        "zkboot", os.environ, lambda: actions.status("zkboot", flags, os.environ, fmt, timeout, transport)
    )


# The light commands are dispatched before typer is imported (zkboot.entry); these entries only
# list them in --help, and forward to the same code if reached.
LIGHT = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command(context_settings=LIGHT, add_help_option=False)
def probe(ctx: typer.Context) -> int:
    """live|ready: the liveness or readiness of the server on this pod (exit 0 pass, 1 fail)."""
    return probecli.zkboot_light(["probe", *ctx.args]) or 0


@app.command(context_settings=LIGHT, add_help_option=False)
def metrics(ctx: typer.Context) -> int:
    """mntr as text, Prometheus exposition format (--format prometheus) or JSON."""
    return probecli.zkboot_light(["metrics", *ctx.args]) or 0


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
        sys.stderr.write(f"zkboot: error: {exc.format_message()}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0
