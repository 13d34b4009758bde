"""The steps shared by ``start``, ``render`` and ``zkGenConfig.sh``, in the order they happen.

1. ``plan``: settings -> identity -> installation -> heap -> rendered files (reads, never writes);
2. ``check``: the myid and the dirs (still nothing written, nothing reported but errors);
   ``write``: report the plan, create dirs and write the files;
3. ``start``: exec zkServer.sh.
Every check happens before the first write, so bad input leaves the disk as it was.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from zkboot.errors import EnvironmentProblem
from zkboot.settings import Settings, label
from zkboot.start import cfgkeys, files, heap, identity, install, launch, render
from zkboot.start.report import Reporter


@dataclass(frozen=True)
class Plan:
    settings: Settings
    identity: identity.Identity
    installation: install.Installation | None
    heap: heap.Heap
    files: list[render.RenderedFile]
    warnings: list[str]

    @property
    def dirs(self) -> list[str]:
        s = self.settings
        return list(dict.fromkeys([s.conf_dir, s.data_dir, s.data_log_dir, s.log_dir]))

    @property
    def jvmflags(self) -> list[str]:
        return render.server_jvmflags(self.settings, self.heap.size, self.installation)


def plan(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    need_installation: bool,
    system: identity.SystemNames | None = None,
) -> Plan:
    """Everything a start would do, decided; raises UsageError/EnvironmentProblem on bad input."""
    if system is None and not settings.hostname:
        system = identity.read_system_names()
    who = identity.derive(settings, system)
    if need_installation:
        found: install.Installation | None = install.find(
            settings.zookeeper_home, environ, label(settings, "zookeeper_home")
        )
    else:
        try:
            found = install.find(settings.zookeeper_home, environ, label(settings, "zookeeper_home"))
        except EnvironmentProblem:
            found = None  # render and zkGenConfig.sh work without ZooKeeper on the machine
    chosen_heap = heap.resolve(settings.heap)
    rendered = render.render(settings, who, chosen_heap.size, found)
    return Plan(settings, who, found, chosen_heap, rendered, cfgkeys.warnings(settings.extra))


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


def check(p: Plan) -> bool:
    """The checks against the disk (myid, writable dirs); True when myid is already in place."""
    myid_file = next(f for f in p.files if f.kind == "myid")
    present = files.check_myid(Path(myid_file.path), p.identity.myid, p.identity.hostname)
    files.check_writable(p.dirs)
    return present


def write(p: Plan, myid_present: bool, report: Reporter) -> None:
    files.apply(p.files, p.dirs, myid_present, report)


def start(p: Plan, report: Reporter, environ: Mapping[str, str]) -> NoReturn:
    assert p.installation is not None  # plan(need_installation=True) guarantees it
    command = launch.argv(p.installation, p.settings)
    env = launch.environment(environ, p.settings, p.jvmflags, p.heap.size)
    report("exec", " ".join(command) + f" (pid {os.getpid()})")
    launch.execute(command, env)
