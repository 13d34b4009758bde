"""The start pipeline, which owns the plan; ``start``, ``zkGenConfig.sh`` and ``render`` all run it.

Data flows one way:

1. ``plan``: settings -> identity -> installation -> heap -> JVM flags -> rendered files, each
   decided once (reads the machine, never writes);
2. ``check``: every check against the disk (each dir to create, each file target, myid), then
   the membership guard (a serving ensemble must have this start's server list: see
   ``zkboot.start.membership``); still nothing written, nothing printed but errors;
3. ``write``: the progress lines, then dirs and files;
4. ``execute``: exec ``zkServer.sh start-foreground`` with the plan's command and environment.

``render`` stops after 1 and prints, or relocates the files under a directory and runs 2 and 3
with them; ``zkGenConfig.sh`` stops after 3.  Bad input leaves the disk as it was.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from zkboot import membership
from zkboot.errors import EnvironmentProblem, UsageError
from zkboot.options import ProbeOptions
from zkboot.record import Record
from zkboot.report import Reporter
from zkboot.start import cfgkeys, files, heap, identity, install, launch, render, sasl, tls
from zkboot.start.settings import FlagValues, Settings, resolve, setting_label

TYPE_CHECKING = False  # typing costs every start ~2 ms to import
if TYPE_CHECKING:
    from typing import NoReturn

    from zkboot.start.heap import Heap
    from zkboot.start.identity import Identity

TLS_SINCE = "3.5.5"  # PEM key and trust stores, sslQuorum and portUnification


class Plan(Record):
    """Everything a start does, decided before anything is checked against the disk or written."""

    __slots__ = (
        "client_account",
        "files",
        "heap",
        "identity",
        "installation",
        "jvmflags",
        "password",
        "peer_timeout",
        "settings",
        "warnings",
    )
    hidden = frozenset({"password", "client_account"})
    settings: Settings
    identity: Identity
    installation: install.Installation | None
    heap: Heap
    jvmflags: tuple[str, ...]
    files: tuple[render.RenderedFile, ...]
    warnings: tuple[str, ...]
    peer_timeout: float  # seconds for asking the peers (the probes' deadline)
    password: str | None  # the super user's, from its file
    client_account: sasl.Account | None  # zkboot's own sessions

    def __init__(
        self,
        settings: Settings,
        identity: Identity,
        installation: install.Installation | None,
        heap: Heap,
        jvmflags: tuple[str, ...],
        files: tuple[render.RenderedFile, ...],
        warnings: tuple[str, ...],
        peer_timeout: float,
        password: str | None = None,
        client_account: sasl.Account | None = None,
    ) -> None:
        self.settings, self.identity, self.installation, self.heap = settings, identity, installation, heap
        self.jvmflags, self.files, self.warnings, self.peer_timeout = jvmflags, files, warnings, peer_timeout
        self.password, self.client_account = password, client_account

    @property
    def dynamic(self) -> bool:
        return self.settings.membership == "dynamic"

    @property
    def state_dir(self) -> Path:
        """Dynamic membership: where ZooKeeper's zoo.cfg and zoo.cfg.dynamic.<version> live (the volume)."""
        return Path(self.settings.data_dir) / membership.STATE_DIR

    @property
    def dirs(self) -> tuple[str, ...]:
        s = self.settings
        dirs = [s.conf_dir, s.data_dir, s.data_log_dir, s.log_dir]
        return tuple(dict.fromkeys([*dirs, str(self.state_dir)] if self.dynamic else dirs))

    @property
    def zoo_cfg(self) -> str:
        return next(f.path for f in self.files if Path(f.path).name == "zoo.cfg")

    def with_membership(self, decision: membership.Decision) -> Plan:
        """The plan with the dynamic configuration a start decided on (zoo.cfg names its file)."""
        path = str(self.state_dir / decision.name)
        kept = [f for f in self.files if f.kind != "membership" and Path(f.path).name != "zoo.cfg"]
        cfg = render.zoo_cfg(self.settings, self.identity, self.password, path, self.installation)
        new = [render.RenderedFile(path, decision.text, "membership")] if decision.text is not None else []
        return self.replace(files=(cfg, *kept, *new))

    def files_under(self, root: Path) -> tuple[render.RenderedFile, ...]:
        """The files moved under ``root``, mirroring their absolute paths, secrets masked (``render --output-dir``)."""
        return tuple(
            f.replace(path=str(root / Path(f.path).relative_to("/")), content=f.display, shown=None) for f in self.files
        )


def plan(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    need_installation: bool,
    need_secrets: bool | None = None,
    system: identity.SystemNames | None = None,
) -> Plan:
    """Decide everything; UsageError/EnvironmentProblem on bad input.  Reads, never writes.

    ``need_secrets`` (default: as ``need_installation``): an unreadable password file stops it.
    """
    if need_secrets is None:
        need_secrets = need_installation
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
    too_old = found is not None and found.version is not None and install.older(found.version, "3.5.3")
    if settings.membership == "dynamic" and too_old:
        assert found is not None
        raise EnvironmentProblem(
            f"{settings.label('membership')}=dynamic: ZooKeeper {found.version} at {found.zkserver} has "
            "no dynamic reconfiguration; expected 3.5.3 or later (or --membership static)"
        )
    uses_tls = settings.secure_client_port is not None or settings.quorum_tls_files is not None
    if uses_tls and found is not None and found.version is not None and install.older(found.version, TLS_SINCE):
        name = "secure_client_port" if settings.secure_client_port is not None else "quorum_tls"
        raise EnvironmentProblem(
            f"{settings.label(name)}: ZooKeeper {found.version} at {found.zkserver} cannot read PEM key and "
            f"trust stores; expected {TLS_SINCE} or later (or no TLS settings)"
        )
    if settings.quorum_sasl_dir and found is not None and found.version is not None:
        if install.older(found.version, sasl.SASL_SINCE):
            raise EnvironmentProblem(
                f"{settings.label('quorum_sasl_dir')}: ZooKeeper {found.version} at {found.zkserver} has no quorum "
                f"SASL; expected {sasl.SASL_SINCE} or later"
            )
        if not install.older(found.version, sasl.FIPS_SINCE) and settings.fips_mode != "off":
            raise EnvironmentProblem(
                f"{settings.label('quorum_sasl_dir')}: ZooKeeper {found.version} disables DIGEST-MD5 in FIPS mode "
                f"(on by default since {sasl.FIPS_SINCE}); expected {settings.label('fips_mode')}=off to use it, "
                "or no quorum SASL"
            )
    chosen_heap = heap.resolve(settings.heap)
    jvmflags = render.server_jvmflags(settings, chosen_heap.size, found)
    password, notes = read_password(settings, need_secrets)
    keystores, tls_notes = tls.read_keystores(settings, need_secrets)
    account, sasl_notes = read_account(settings, "quorum_sasl_dir", need_secrets)
    client_account, client_notes = read_account(settings, "client_sasl_dir", need_secrets)
    if settings.client_sasl_dir and not render.client_sasl_enforced(found):
        assert found is not None
        client_notes += (
            f"{settings.label('client_sasl_dir')}: ZooKeeper {found.version} has no sessionRequireClientSASLAuth "
            f"(since {sasl.REQUIRE_SINCE}): clients without SASL are not refused, only ACLs of the sasl scheme "
            "keep them from znodes",
        )
    initial = None
    if settings.membership == "dynamic":
        first = membership.planned(who, settings.server_port, settings.election_port)
        path = Path(settings.data_dir) / membership.STATE_DIR / membership.INITIAL_NAME
        initial = (str(path), membership.dynamic_text(first, tls.client_access(settings).listen))
    rendered = render.render(settings, who, jvmflags, found, password, initial, keystores, account, client_account)
    warnings = (*size_notes(settings), *notes, *tls_notes, *sasl_notes, *client_notes,
                *cfgkeys.warnings(settings.extra, setting_label))  # fmt: skip
    peer_timeout = ProbeOptions.resolve({}, environ).timeout
    return Plan(settings, who, found, chosen_heap, jvmflags, rendered, warnings, peer_timeout, password, client_account)


def read_account(settings: Settings, name: str, need: bool) -> tuple[sasl.Account | None, tuple[str, ...]]:
    """A SASL account from the Secret setting ``name`` names; with ``need`` False (``render``) a
    warning instead of an error."""
    directory = getattr(settings, name)
    if directory is None:
        return None, ()
    whose = "quorum's" if name == "quorum_sasl_dir" else "clients'"
    try:
        return sasl.read_account(f"{settings.label(name)}={directory}", directory, whose), ()
    except EnvironmentProblem as exc:
        if need:
            raise
        return None, (f"{exc.problems[0]}; shown anyway: where the JAAS file goes",)


def read_password(settings: Settings, need: bool) -> tuple[str | None, tuple[str, ...]]:
    """The super user's password from its file (a mounted Secret), and a warning when ``render``
    could not read it (it masks it anyway); a start that cannot read it stops."""
    name = settings.super_password_file
    if name is None:
        return None, ()
    try:
        password = Path(name).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"{settings.label('super_password_file')}={name}: cannot read ({getattr(exc, 'strerror', exc)})"
        if need:
            raise EnvironmentProblem(f"{problem}; expected a readable file holding the password") from None
        return "", (f"{problem}; zoo.cfg shows where its digest goes",)
    if not password:
        raise EnvironmentProblem(f"{settings.label('super_password_file')}={name} is empty; expected the password")
    return password, ()


def size_notes(settings: Settings) -> tuple[str, ...]:
    """A warning for an even ensemble: a quorum is a strict majority, so 2 members tolerate no
    failure (as 1 does) and 4 tolerate one (as 3 do).  A warning, not an error: 2 is what some
    deployments ask for (a Helm ``servers=2``), and it runs."""
    servers = settings.servers
    if servers < 2 or servers % 2:
        return ()
    tolerated = (servers - 1) // 2
    failures = "no failure" if tolerated == 0 else f"{tolerated} failure{'s' if tolerated > 1 else ''}"
    return (
        f"{settings.label('servers')}={servers}: a quorum of {servers // 2 + 1} of {servers} members tolerates "
        f"{failures}, as {servers - 1} would; expected an odd number of servers ({servers + 1} tolerate "
        f"{tolerated + 1})",
    )


def check(p: Plan) -> frozenset[str]:
    """Every check against the disk; the myid files already in place."""
    return files.check(p.files, p.dirs, p.identity.myid, p.identity.hostname)


def check_membership(p: Plan) -> tuple[Plan, str]:
    """After the disk checks (they cost nothing): the static guard, or the dynamic decision (which
    may join the serving ensemble first); the plan to write and the note for the progress line."""
    s, version = p.settings, p.installation.version if p.installation else None
    access = tls.client_access(s, p.client_account)
    if p.dynamic:
        decision = membership.decide_dynamic(
            p.identity, s.server_port, s.election_port, access, p.state_dir, p.password or "", p.peer_timeout
        )
        return p.with_membership(decision), decision.note
    readable = version is None or not install.older(version, "3.5.0")
    note = membership.check_static(
        p.identity, s.server_port, s.election_port, access, p.peer_timeout, readable=readable
    )
    return p, note


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


def write(p: Plan, report: Reporter) -> Plan:
    """Check, then report the plan and write it; the plan as written (its membership decided)."""
    present = check(p)
    p, note = check_membership(p)
    report_plan(p, report)
    report("membership", note)
    files.apply(p.files, p.dirs, present, report)
    return p


def execute(p: Plan, report: Reporter, environ: Mapping[str, str]) -> NoReturn:
    if p.installation is None:  # plan(need_installation=True) never leaves it out
        raise EnvironmentProblem("no ZooKeeper installation to start")
    command = launch.argv(p.installation, p.zoo_cfg)
    env = launch.environment(environ, p.settings, p.jvmflags, p.heap.size)
    report("exec", " ".join(command) + f" (pid {os.getpid()})")
    launch.execute(command, env)


# -- the commands --------------------------------------------------------------------------------


def start(program: str, flags: FlagValues, environ: Mapping[str, str], *, legacy_spelling: bool = False) -> NoReturn:
    """``zkboot start`` and ``start-zookeeper``: the whole pipeline, ending in exec."""
    settings = resolve(flags, environ, legacy_spelling=legacy_spelling)
    report = Reporter(program, settings.log_format)
    p = write(plan(settings, environ, need_installation=True), report)
    execute(p, report, environ)


def generate(program: str, flags: FlagValues, environ: Mapping[str, str], *, legacy_spelling: bool = False) -> int:
    """``zkGenConfig.sh``: write the files and stop."""
    settings = resolve(flags, environ, legacy_spelling=legacy_spelling)
    p = plan(settings, environ, need_installation=False, need_secrets=True)
    write(p, Reporter(program, settings.log_format))
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
        import json  # render only: every pod's start would pay its import

        sys.stdout.write(json.dumps(as_document(p), indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(f"==> {f.path} <==\n{f.display}" for f in p.files))
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
        "files": [{"path": f.path, "kind": f.kind, "content": f.display} for f in p.files],
        "warnings": list(p.warnings),
    }


def shrink(
    program: str, flags: FlagValues, probe_flags: Mapping[str, str | None], environ: Mapping[str, str], replicas: int
) -> int:
    """``zkboot shrink --replicas N``, run in any member: remove the members with ordinal >= N."""
    settings = resolve(flags, environ)
    if settings.membership != "dynamic":
        raise UsageError(
            f"{settings.label('membership')}={settings.membership}: shrink changes a dynamic membership; "
            "expected --membership dynamic / ZK_MEMBERSHIP=dynamic (a static ensemble is resized stopped)"
        )
    if replicas < 1:
        raise UsageError(f"--replicas={replicas}: expected at least 1")
    who = identity.derive(settings, None if settings.hostname else identity.read_system_names())
    password, _ = read_password(settings, True)
    timeout = ProbeOptions.resolve(probe_flags, environ).timeout
    account, _ = read_account(settings, "client_sasl_dir", True)
    access = tls.client_access(settings, account)
    line = membership.shrink(who, replicas, settings.myid_offset, access, password or "", timeout)
    sys.stdout.write(line + "\n")
    return 0
