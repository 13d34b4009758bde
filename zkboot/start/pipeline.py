"""The start pipeline: ``zkboot start`` (and ``start-zookeeper``), ``zkGenConfig.sh`` and ``zkboot
render`` are runs of its steps, in this order:

1. ``plan.make``: settings -> identity -> installation -> heap and JVM flags -> Secrets -> log
   configuration; reads the machine, never writes (zkboot.start.plan);
2. ``check_volume``: the files that do not depend on the membership rendered, the transaction log's
   dir read from the volume (zkboot.start.txnlog), and every path known so far checked (dirs, file
   targets, myid), before any peer is asked;
3. ``settle_membership``: the static guard (a serving ensemble must have this start's server list),
   or the dynamic decision, which may first commit a ``reconfig`` that adds this member
   (zkboot.ensemble);
4. ``render``: zoo.cfg and the dynamic file, and so every file's text, each once (zkboot.start.render);
5. ``write``: every file target checked, then the progress lines, the dirs and the files;
6. ``execute``: exec ``zkServer.sh start-foreground``.

``zkGenConfig.sh`` stops after 5.  ``render`` asks no peer: it renders the plan (with the log dir
the volume holds, as 2 finds it) with what a first boot would decide, and prints the files or
writes them under a directory (checks and writes of 5).
Bad input, found in 1, 2 or 5, leaves the disk as it was.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from zkboot.ensemble import guard, join
from zkboot.errors import EnvironmentProblem, UsageError
from zkboot.report import Reporter
from zkboot.settings.resolve import FlagValues, resolve
from zkboot.start import files, launch, plan, renewal, txnlog
from zkboot.start.plan import Plan
from zkboot.start.render import RenderedFile, fixed_files, keystore_path, render


def with_volume_log_dir(p: Plan, *, lenient: bool = False) -> Plan:
    """The plan with the log dir the volume already uses (the data dir, for a volume that keeps its
    transaction log there); EnvironmentProblem when the data dir and the log dir both hold one.
    ``lenient`` (``render``): a volume this user cannot read is a warning (txnlog.detect)."""
    found = txnlog.detect(p.settings, lenient=lenient)
    if found.warning is not None:
        return replace(p, warnings=(*p.warnings, found.warning))
    return p if found.note is None else replace(p, settings=found.settings, data_log_note=found.note)


def check_volume(p: Plan, fixed: tuple[RenderedFile, ...]) -> Plan:
    """Before any peer is asked, let alone joined: the log dir the volume uses (the plan returned
    has it), the dirs a start writes into can be written, a file can go at zoo.cfg's path and at
    each of ``fixed``'s, and a myid already there is this pod's (a pod on another pod's volume must
    stop here).  Only the dynamic file's name waits for step 3."""
    # The dirs before the log dir first, in their usual order: a data dir out of this user's reach
    # is named as such, rather than as a version-2 that cannot be read.
    files.check_dirs(p.dirs[: p.dirs.index(p.settings.data_log_dir)])
    p = with_volume_log_dir(p)
    files.check_dirs(p.dirs)
    for path in (p.zoo_cfg, *(f.path for f in fixed)):
        files.check_file_target(Path(path))
    files.check_myid(Path(p.settings.data_dir) / "myid", p.identity.myid, p.identity.hostname)
    return p


def settle_membership(p: Plan) -> tuple[join.Decision | None, str]:
    """The static guard, or the dynamic decision (which may join the serving ensemble first): the
    dynamic configuration to start with (None: static), and the note for the progress line."""
    s = p.settings
    if p.dynamic:
        decision = join.decide(
            p.identity, s.server_port, s.election_port, p.access, p.state_dir, p.secrets.password or "", p.peer_timeout
        )
        return decision, decision.note
    readable = p.installation is None or p.installation.supports("membership_config")
    note = guard.check_static(p.identity, s.server_port, s.election_port, p.access, p.peer_timeout, readable=readable)
    return None, note


def local_membership(p: Plan) -> join.Decision | None:
    """What ``render`` shows without asking a peer: with dynamic membership, a first boot's list."""
    if not p.dynamic:
        return None
    s = p.settings
    return join.first_boot(p.identity, s.server_port, s.election_port, p.access.listen)


def report_plan(p: Plan, report: Reporter) -> None:
    who = p.identity
    mode = f"ensemble of {p.settings.servers}" if who.members else "standalone"
    report("identity", f"{who.fqdn}: StatefulSet {who.name} ordinal {who.ordinal}, myid {who.myid}, {mode}")
    if p.installation is not None:
        found = p.installation
        report(
            "zookeeper",
            f"{found.zkserver} ({found.layout} layout, version {found.version or 'unknown'}, "
            f"{found.log_backend} logging)",
        )
    else:
        report("zookeeper", "none found; writing log4j.properties and logback.xml both")
    report("heap", f"{p.heap.size} ({p.heap.note})")
    if p.data_log_note is not None:
        report("datalog", p.data_log_note)
    for warning in p.warnings:
        report.warn(warning)


def write(p: Plan, rendered: tuple[RenderedFile, ...], note: str, report: Reporter) -> None:
    """Check every target, then report the plan and write the files."""
    present = files.check(rendered, p.dirs, p.identity.myid, p.identity.hostname)
    report_plan(p, report)
    report("membership", note)
    files.apply(rendered, p.dirs, present, report)


def execute(p: Plan, report: Reporter, environ: Mapping[str, str]) -> NoReturn:
    if p.installation is None:  # plan.make(need_installation=True) never leaves it out
        raise EnvironmentProblem("no ZooKeeper installation to start")
    command = launch.argv(p.installation, p.zoo_cfg)
    env = launch.environment(environ, p.settings, p.jvmflags, p.heap.size)
    watch_renewals(p, report)
    report("exec", " ".join(command) + f" (pid {os.getpid()})")
    launch.execute(command, env)


def watch_renewals(p: Plan, report: Reporter) -> None:
    """The TLS renewal watch beside the server (zkboot.start.renewal), when key stores were written."""
    s = p.settings
    paths = {store.role: keystore_path(s, store.role) for store in p.secrets.keystores}
    stores = renewal.watched(p.secrets.keystores, paths)
    if s.tls_reload_interval == 0 or not stores:
        return
    problem = renewal.spawn(stores, s.tls_reload_interval, report.program, report.fmt)
    if problem is not None:
        report.warn(problem)
        return
    report("renewal", f"the TLS Secrets are checked every {s.tls_reload_interval}s for a renewed certificate")


# -- the commands --------------------------------------------------------------------------------


def start(program: str, flags: FlagValues, environ: Mapping[str, str], *, legacy_spelling: bool = False) -> NoReturn:
    """``zkboot start`` and ``start-zookeeper``: the whole pipeline, ending in exec."""
    settings = resolve(flags, environ, legacy_spelling=legacy_spelling)
    report = Reporter(program, settings.log_format)
    p = plan.make(settings, environ, need_installation=True)
    fixed = fixed_files(p)
    p = check_volume(p, fixed)
    decision, note = settle_membership(p)
    write(p, render(p, decision, fixed), note, report)
    execute(p, report, environ)


def generate(program: str, flags: FlagValues, environ: Mapping[str, str], *, legacy_spelling: bool = False) -> int:
    """``zkGenConfig.sh``: write the files and stop."""
    settings = resolve(flags, environ, legacy_spelling=legacy_spelling)
    p = plan.make(settings, environ, need_installation=False, need_secrets=True)
    fixed = fixed_files(p)
    p = check_volume(p, fixed)
    decision, note = settle_membership(p)
    write(p, render(p, decision, fixed), note, Reporter(program, settings.log_format))
    return 0


def render_command(
    program: str, flags: FlagValues, environ: Mapping[str, str], fmt: str, output_dir: str | None
) -> int:
    """``zkboot render``: print every file a start would write, or write them under ``output_dir``."""
    if fmt not in ("text", "json"):
        raise UsageError(f"--format={fmt!r}: expected text or json")
    settings = resolve(flags, environ)
    p = with_volume_log_dir(plan.make(settings, environ, need_installation=False), lenient=True)
    rendered = render(p, local_membership(p))
    report = Reporter(program, settings.log_format)
    if p.data_log_note is not None:
        report("datalog", p.data_log_note)
    if output_dir is not None:
        root = Path(output_dir)
        moved = under(root if root.is_absolute() else Path.cwd() / root, rendered)
        present = files.check(moved, (), p.identity.myid, p.identity.hostname)
        for warning in p.warnings:
            report.warn(warning)
        files.apply(moved, (), present, report)
        return 0
    for warning in p.warnings:
        report.warn(warning)
    if fmt == "json":
        sys.stdout.write(json.dumps(as_document(p, rendered), indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(f"==> {f.path} <==\n{f.display}" for f in rendered))
    return 0


def under(root: Path, rendered: tuple[RenderedFile, ...]) -> tuple[RenderedFile, ...]:
    """The files moved under ``root``, mirroring their absolute paths, secrets masked (``render --output-dir``)."""
    return tuple(
        replace(f, path=str(root / Path(f.path).relative_to("/")), content=f.display, shown=None) for f in rendered
    )


def as_document(p: Plan, rendered: tuple[RenderedFile, ...]) -> dict[str, object]:
    who, found, s = p.identity, p.installation, p.settings
    return {
        "identity": {
            "hostname": who.hostname,
            "fqdn": who.fqdn,
            "statefulset": who.name,
            "ordinal": who.ordinal,
            "myid": who.myid,
            "domain": who.domain,
            "servers": [m.server_line(s.server_port, s.election_port) for m in who.members],
        },
        "zookeeper": None
        if found is None
        else {
            "zkserver": str(found.zkserver),
            "layout": found.layout,
            "version": found.version,
            "log_backend": found.log_backend,
        },
        "heap": {"size": p.heap.size, "note": p.heap.note},
        "jvmflags": list(p.jvmflags),
        "files": [{"path": f.path, "kind": f.kind, "content": f.display} for f in rendered],
        "warnings": list(p.warnings),
    }
