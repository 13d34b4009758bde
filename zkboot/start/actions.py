"""What each command does, independent of how its arguments were parsed.

``zkboot`` (typer) and the old script names (their own tiny parser) both land here, so
``start-zookeeper --servers=3`` and ``zkboot start --servers 3`` run the very same code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from zkboot.errors import UsageError, ZkbootError
from zkboot.settings import FlagValues, label, resolve
from zkboot.start import files
from zkboot.start import pipeline as boot
from zkboot.start.report import Reporter


def guarded(program: str, environ: Mapping[str, str], action: Callable[[], int]) -> int:
    """Run ``action``; report a ZkbootError as one line and return its exit code."""
    try:
        return action()
    except ZkbootError as exc:
        fmt = "json" if environ.get("ZK_LOG_FORMAT", "").strip().lower() == "json" else "text"
        Reporter(program, fmt).error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def start(program: str, flags: FlagValues, environ: Mapping[str, str], *, legacy_spelling: bool = False) -> int:
    plan, report = _write(program, flags, environ, legacy_spelling, need_installation=True)
    boot.start(plan, report, environ)


def generate(program: str, flags: FlagValues, environ: Mapping[str, str], *, legacy_spelling: bool = False) -> int:
    """Write the files and stop, as zkGenConfig.sh did."""
    _write(program, flags, environ, legacy_spelling, need_installation=False)
    return 0


def _write(
    program: str, flags: FlagValues, environ: Mapping[str, str], legacy_spelling: bool, need_installation: bool
) -> tuple[boot.Plan, Reporter]:
    """Resolve, plan and check everything, then report and write: the common part of a start."""
    settings = resolve(flags, environ, legacy_spelling=legacy_spelling)
    report = Reporter(program, settings.log_format)
    plan = boot.plan(settings, environ, need_installation=need_installation)
    myid_present = boot.check(plan)
    boot.report_plan(plan, report)
    boot.write(plan, myid_present, report)
    return plan, report


def render(program: str, flags: FlagValues, environ: Mapping[str, str], fmt: str, output_dir: str | None) -> int:
    """Print (or write under ``output_dir``) every file a start would write; touch nothing else."""
    if fmt not in ("text", "json"):
        raise UsageError(f"--format={fmt!r}: expected text or json")
    settings = resolve(flags, environ)
    plan = boot.plan(settings, environ, need_installation=False)
    report = Reporter(program, settings.log_format)
    for warning in plan.warnings:
        report.warn(warning)
    if output_dir is not None:
        root = Path(output_dir)
        if not root.is_absolute():
            root = Path.cwd() / root
        targets = [root / Path(f.path).relative_to("/") for f in plan.files]
        files.check_writable(sorted({str(t.parent) for t in targets}))
        for rendered, target in zip(plan.files, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            files.write_atomic(target, rendered.content)
            report("wrote", str(target))
        return 0
    if fmt == "json":
        who = plan.identity
        document = {
            "identity": {
                "hostname": who.hostname,
                "fqdn": who.fqdn,
                "statefulset": who.name,
                "ordinal": who.ordinal,
                "myid": who.myid,
                "domain": who.domain,
                "servers": [m.server_line(settings.server_port, settings.election_port) for m in who.members],
            },
            "zookeeper": None
            if plan.installation is None
            else {
                "zkserver": str(plan.installation.zkserver),
                "layout": plan.installation.layout,
                "version": plan.installation.version,
                "log_backend": plan.installation.log_backend,
            },
            "heap": {"size": plan.heap.size, "note": plan.heap.note},
            "files": [{"path": f.path, "kind": f.kind, "content": f.content} for f in plan.files],
            "warnings": plan.warnings,
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return 0
    chunks = [f"==> {f.path} <==\n{f.content}" for f in plan.files]
    sys.stdout.write("\n".join(chunks))
    return 0


def status(
    program: str,
    flags: FlagValues,
    environ: Mapping[str, str],
    fmt: str,
    timeout: str | None,
    transport: str | None,
) -> int:
    """Ask every member of the ensemble this pod belongs to; exit 1 when there is no quorum."""
    from zkboot.cli import light as probecli
    from zkboot.health import status as ensemble
    from zkboot.start import identity

    if fmt not in ("table", "json"):
        raise UsageError(f"--format={fmt!r}: expected table or json")
    settings = resolve(flags, environ)
    who = identity.derive(settings, None if settings.hostname else identity.read_system_names())
    # The ports come from the settings, like start's; how to ask, from the probe options.
    given = {
        "port": (str(settings.client_port), label(settings, "client_port")),
        "admin-port": (str(settings.admin_port), label(settings, "admin_port")),
    }
    if timeout is not None:
        given["timeout"] = (timeout, "--timeout")
    if transport is not None:
        given["transport"] = (transport, "--transport")
    try:
        options = probecli.resolve(given, environ)
    except probecli.Usage as exc:
        raise UsageError(str(exc)) from None
    states = ensemble.collect(who, probecli.endpoint(options))
    held, line = ensemble.verdict(states)
    if fmt == "json":
        sys.stdout.write(ensemble.to_json(states, held, line) + "\n")
    else:
        sys.stdout.write(ensemble.table(states) + "\n" + line + "\n")
    return 0 if held else 1
