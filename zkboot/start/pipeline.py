"""The start pipeline, which owns the plan; ``start``, ``zkGenConfig.sh`` and ``render`` all run it.

Data flows one way:

1. ``plan``: settings -> identity -> installation -> heap -> JVM flags -> rendered files, each
   decided once (reads the machine, never writes);
2. ``check``: every check against the disk (each dir to create, each file target, myid); still
   nothing written, nothing printed but errors;
3. ``write``: the progress lines, then dirs and files;
4. ``execute``: exec ``zkServer.sh start-foreground`` with the plan's command and environment.

``render`` stops after 1 and prints, or relocates the files under a directory and runs 2 and 3
with them; ``zkGenConfig.sh`` stops after 3.  Bad input leaves the disk as it was.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from zkboot.errors import EnvironmentProblem, UsageError
from zkboot.report import Reporter
from zkboot.start import cfgkeys, files, heap, identity, install, launch, render
from zkboot.start.settings import FlagValues, Settings, resolve, setting_label


@dataclass(frozen=True)
class Plan:
    """Everything a start does, decided before anything is checked against the disk or written."""

    settings: Settings
    identity: identity.Identity
    installation: install.Installation | None
    heap: heap.Heap
    jvmflags: tuple[str, ...]
    files: tuple[render.RenderedFile, ...]
    warnings: tuple[str, ...]

    @property
    def dirs(self) -> tuple[str, ...]:
        s = self.settings
        return tuple(dict.fromkeys([s.conf_dir, s.data_dir, s.data_log_dir, s.log_dir]))

    def files_under(self, root: Path) -> tuple[render.RenderedFile, ...]:
        """The files moved under ``root``, mirroring their absolute paths (``render --output-dir``)."""
        return tuple(dataclasses.replace(f, path=str(root / Path(f.path).relative_to("/"))) for f in self.files)


def plan(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    need_installation: bool,
    system: identity.SystemNames | None = None,
) -> Plan:
    """Decide everything; UsageError/EnvironmentProblem on bad input.  Reads, never writes."""
    if system is None and not settings.hostname:
        system = identity.read_system_names()
    who = identity.derive(settings, system)
    home_label = settings.label("zookeeper_home")
    found: install.Installation | None
    try:
        found = install.find(settings.zookeeper_home, environ, home_label)
    except EnvironmentProblem:
        if need_installation:
            raise
        found = None  # render and zkGenConfig.sh work without ZooKeeper on the machine
    chosen_heap = heap.resolve(settings.heap)
    jvmflags = render.server_jvmflags(settings, chosen_heap.size, found)
    rendered = render.render(settings, who, jvmflags, found)
    warnings = tuple(cfgkeys.warnings(settings.extra, setting_label))
    return Plan(settings, who, found, chosen_heap, jvmflags, rendered, warnings)


def check(p: Plan) -> frozenset[str]:
    """Every check against the disk; the myid files already in place."""
    return files.check(p.files, p.dirs, p.identity.myid, p.identity.hostname)


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
    for warning in p.warnings:
        report.warn(warning)


def write(p: Plan, report: Reporter) -> None:
    """Check, then report the plan and write it."""
    present = check(p)
    report_plan(p, report)
    files.apply(p.files, p.dirs, present, report)


def execute(p: Plan, report: Reporter, environ: Mapping[str, str]) -> NoReturn:
    if p.installation is None:  # plan(need_installation=True) never leaves it out
        raise EnvironmentProblem("no ZooKeeper installation to start")
    command = launch.argv(p.installation, p.settings)
    env = launch.environment(environ, p.settings, p.jvmflags, p.heap.size)
    report("exec", " ".join(command) + f" (pid {os.getpid()})")
    launch.execute(command, env)


# -- the commands --------------------------------------------------------------------------------


def start(program: str, flags: FlagValues, environ: Mapping[str, str], *, legacy_spelling: bool = False) -> NoReturn:
    """``zkboot start`` and ``start-zookeeper``: the whole pipeline, ending in exec."""
    settings = resolve(flags, environ, legacy_spelling=legacy_spelling)
    report = Reporter(program, settings.log_format)
    p = plan(settings, environ, need_installation=True)
    write(p, report)
    execute(p, report, environ)


def generate(program: str, flags: FlagValues, environ: Mapping[str, str], *, legacy_spelling: bool = False) -> int:
    """``zkGenConfig.sh``: write the files and stop."""
    settings = resolve(flags, environ, legacy_spelling=legacy_spelling)
    write(plan(settings, environ, need_installation=False), Reporter(program, settings.log_format))
    return 0


def show(program: str, flags: FlagValues, environ: Mapping[str, str], fmt: str, output_dir: str | None) -> int:
    """``zkboot render``: print every file a start would write, or write them under ``output_dir``."""
    if fmt not in ("text", "json"):
        raise UsageError(f"--format={fmt!r}: expected text or json")
    settings = resolve(flags, environ)
    p = plan(settings, environ, need_installation=False)
    report = Reporter(program, settings.log_format)
    if output_dir is not None:
        root = Path(output_dir)
        moved = p.files_under(root if root.is_absolute() else Path.cwd() / root)
        present = files.check(moved, (), p.identity.myid, p.identity.hostname)
        for warning in p.warnings:
            report.warn(warning)
        files.apply(moved, (), present, report)
        return 0
    for warning in p.warnings:
        report.warn(warning)
    if fmt == "json":
        sys.stdout.write(json.dumps(as_document(p), indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(f"==> {f.path} <==\n{f.content}" for f in p.files))
    return 0


def as_document(p: Plan) -> dict[str, object]:
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
        "files": [{"path": f.path, "kind": f.kind, "content": f.content} for f in p.files],
        "warnings": list(p.warnings),
    }
