"""The plan of a start: everything decided from the settings and the machine, before the disk is
checked, a peer is asked or anything is written.

settings -> identity -> installation (and what it can do) -> heap and JVM flags -> the Secrets'
contents (read and checked) -> the log configuration -> the way to reach the peers.  Making a plan
reads the machine and never writes; bad input stops it with one line per problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path

from zkboot.client.access import Access
from zkboot.client.session import SUPER_USER
from zkboot.ensemble.config import STATE_DIR
from zkboot.ensemble.setup import peer_access
from zkboot.errors import EnvironmentProblem
from zkboot.identity import Identity, SystemNames, derive, read_system_names
from zkboot.installation import SINCE, Installation, find
from zkboot.options import ProbeOptions
from zkboot.secrets import Account, UnreadableSecret, read_account, read_password
from zkboot.settings import cfgkeys
from zkboot.settings.resolve import setting_label
from zkboot.settings.schema import Settings
from zkboot.start import heap, launch, logconfig, tls
from zkboot.start.heap import Heap


@dataclass(frozen=True, slots=True)
class Secrets:
    """What the mounted Secrets hold; in ``render``, a Secret that cannot be read is None (or "" for
    the password) and the files show where its contents go."""

    password: str | None = field(default=None, repr=False)  # the super user's, for its digest
    quorum_account: Account | None = None
    client_account: Account | None = None  # also zkboot's own sessions'
    keystores: tuple[tls.KeyStore, ...] = ()  # of the TLS in effect


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a start does, decided before anything is checked against the disk or written."""

    settings: Settings
    identity: Identity
    installation: Installation | None
    heap: Heap
    jvmflags: tuple[str, ...]
    secrets: Secrets
    log_configs: Mapping[str, str]  # backend -> the log configuration's text
    warnings: tuple[str, ...]
    access: Access  # how this pod reaches its peers' client service
    peer_timeout: float  # seconds for asking the peers (the probes' deadline)
    # The volume's own log dir, when it is not the configured one (zkboot.start.txnlog): the progress line
    data_log_note: str | None = None

    @property
    def dynamic(self) -> bool:
        return self.settings.membership == "dynamic"

    @property
    def state_dir(self) -> Path:
        """Dynamic membership: where ZooKeeper's zoo.cfg and zoo.cfg.dynamic.<version> live (the volume)."""
        return Path(self.settings.data_dir) / STATE_DIR

    @property
    def dirs(self) -> tuple[str, ...]:
        s = self.settings
        dirs = [s.conf_dir, s.data_dir, s.data_log_dir, s.log_dir]
        return tuple(dict.fromkeys([*dirs, str(self.state_dir)] if self.dynamic else dirs))

    @property
    def zoo_cfg(self) -> str:
        """zoo.cfg's path: in the conf dir; with dynamic membership in the state dir, beside its
        dynamic file, since ZooKeeper rewrites both at every reconfiguration."""
        return str((self.state_dir if self.dynamic else Path(self.settings.conf_dir)) / "zoo.cfg")


def make(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    need_installation: bool,
    need_secrets: bool | None = None,
    system: SystemNames | None = None,
) -> Plan:
    """Decide everything; UsageError/EnvironmentProblem on bad input.  Reads, never writes.

    ``need_secrets`` (default: as ``need_installation``): a Secret that cannot be read stops it;
    otherwise (``render``) it is a warning.
    """
    if system is None and not settings.hostname:
        system = read_system_names()
    identity = derive(settings, system)
    installation: Installation | None
    try:
        installation = find(settings.zookeeper_home, environ, settings.label("zookeeper_home"))
    except EnvironmentProblem:
        if need_installation:
            raise
        installation = None  # render and zkGenConfig.sh work without ZooKeeper on the machine
    secrets_needed = need_installation if need_secrets is None else need_secrets
    return with_installation(settings, identity, installation, environ, need_secrets=secrets_needed)


def with_installation(
    settings: Settings,
    identity: Identity,
    installation: Installation | None,
    environ: Mapping[str, str],
    *,
    need_secrets: bool,
) -> Plan:
    """The rest of the plan, once the identity and the installation (None: none found) are known."""
    notes = require(settings, installation)
    chosen_heap = heap.resolve(settings.heap)
    secrets, secret_notes = read_secrets(settings, need_secrets)
    return Plan(
        settings=settings,
        identity=identity,
        installation=installation,
        heap=chosen_heap,
        jvmflags=launch.jvm_flags(settings, chosen_heap.size, installation),
        secrets=secrets,
        log_configs=logconfig.render(settings, identity, installation),
        warnings=(
            *size_notes(settings),
            *secret_notes,
            *notes,
            *cfgkeys.warnings(settings.extra, setting_label),
            *exposure_notes(settings),
            *renewal_notes(settings, installation),
        ),
        access=peer_access(settings, secrets.client_account),
        peer_timeout=ProbeOptions.resolve({}, environ).timeout,
    )


def require(settings: Settings, installation: Installation | None) -> tuple[str, ...]:
    """What the settings ask of the installation: EnvironmentProblem when it cannot do it, a warning
    when it can only in part.  Nothing to check without an installation (``render``)."""
    if installation is None:
        return ()
    version, where = installation.version, installation.zkserver
    if settings.membership == "dynamic" and not installation.supports("dynamic_reconfig"):
        raise EnvironmentProblem(
            f"{settings.label('membership')}=dynamic: ZooKeeper {version} at {where} has no dynamic "
            f"reconfiguration; expected {SINCE['dynamic_reconfig']} or later (or --membership static)"
        )
    uses_tls = settings.quorum_tls_files is not None or settings.secure_client_port is not None
    if uses_tls and not installation.supports("pem_stores"):
        name = "secure_client_port" if settings.secure_client_port is not None else "quorum_tls"
        raise EnvironmentProblem(
            f"{settings.label(name)}: ZooKeeper {version} at {where} cannot read PEM key and trust stores; "
            f"expected {SINCE['pem_stores']} or later (or no TLS settings)"
        )
    if settings.quorum_sasl_dir:
        if not installation.supports("quorum_sasl"):
            raise EnvironmentProblem(
                f"{settings.label('quorum_sasl_dir')}: ZooKeeper {version} at {where} has no quorum SASL; "
                f"expected {SINCE['quorum_sasl']} or later"
            )
        refuses = installation.supports("fips_refuses_quorum_digest")
        if version is not None and refuses and settings.fips_mode != "off":
            raise EnvironmentProblem(
                f"{settings.label('quorum_sasl_dir')}: ZooKeeper {version}'s members refuse quorum DIGEST-MD5 "
                f"in FIPS mode (zookeeper.fips-mode, on by default since {SINCE['fips_mode']}); expected "
                f"{settings.label('fips_mode')}=off for quorum SASL, or quorum TLS alone"
            )
    if settings.metrics_port is not None:
        if not installation.supports("prometheus_provider"):
            raise EnvironmentProblem(
                f"{settings.label('metrics_port')}={settings.metrics_port}: ZooKeeper {version} at {where} has no "
                f"Prometheus metrics provider; expected {SINCE['prometheus_provider']} or later (or no metrics port)"
            )
        if not installation.prometheus_jar:
            jars = "lib/" if installation.layout == "upstream" else "its classpath"
            raise EnvironmentProblem(
                f"{settings.label('metrics_port')}={settings.metrics_port}: the ZooKeeper at {where} has "
                f"no zookeeper-prometheus-metrics jar in {jars}; expected an installation with the Prometheus "
                "metrics provider (or no metrics port)"
            )
    chosen = settings.digest_algorithm
    if chosen not in ("auto", launch.ZOOKEEPER_DIGEST) and not installation.supports("digest_algorithm"):
        raise EnvironmentProblem(
            f"{settings.label('digest_algorithm')}={chosen}: ZooKeeper {version} at {where} hashes digests with "
            f"{launch.ZOOKEEPER_DIGEST} only; expected {SINCE['digest_algorithm']} or later (or auto)"
        )
    if settings.client_sasl_dir and not installation.supports("require_client_sasl"):
        return (
            f"{settings.label('client_sasl_dir')}: ZooKeeper {version} has no sessionRequireClientSASLAuth "
            f"(since {SINCE['require_client_sasl']}): clients without SASL are not refused, only ACLs of the sasl "
            "scheme keep them from znodes",
        )
    return ()


def read_secrets(settings: Settings, need: bool) -> tuple[Secrets, tuple[str, ...]]:
    """The contents of the Secrets the settings name; with ``need`` False (``render``) a Secret that
    cannot be read gives a warning instead of an error."""
    notes: list[str] = []
    password = None
    if settings.super_password_file is not None:
        try:
            password = read_password(settings.label("super_password_file"), settings.super_password_file)
        except UnreadableSecret as exc:
            if need:
                raise
            password = ""
            notes.append(f"{exc.seen}; zoo.cfg shows where its digest goes")
    keystores, tls_notes = tls.read_keystores(settings, need)
    notes += tls_notes
    accounts: dict[str, Account | None] = {}
    for name, whose in (("quorum_sasl_dir", "quorum's"), ("client_sasl_dir", "clients'")):
        directory = getattr(settings, name)
        accounts[name] = None
        if directory is None:
            continue
        try:
            accounts[name] = read_account(f"{settings.label(name)}={directory}", directory, whose)
        except EnvironmentProblem as exc:
            if need:
                raise
            notes.append(f"{exc.problems[0]}; shown anyway: where the JAAS file goes")
    client = accounts["client_sasl_dir"]
    if client is not None and password is not None and client.username == SUPER_USER:
        # zookeeper.superUser names it: the clients' account would be the super user.
        raise EnvironmentProblem(
            f"{settings.label('client_sasl_dir')}={settings.client_sasl_dir}: username {client.username!r} is the "
            "super user's SASL account; expected another name for the clients' account"
        )
    secrets = Secrets(password, accounts["quorum_sasl_dir"], client, keystores)
    return secrets, tuple(notes)


def exposure_notes(settings: Settings) -> tuple[str, ...]:
    """A warning when the admin server, which answers anyone, listens beyond loopback with the super
    user's digest among its system properties (``/commands/system_properties`` shows them all)."""
    if not (settings.admin_server and settings.super_password_file) or ip_address(settings.admin_address).is_loopback:
        return ()
    return (
        f"{settings.label('admin_address')}={settings.admin_address}: the admin server answers "
        "/commands/system_properties, the super user's digest included, to whoever reaches port "
        f"{settings.admin_port} there, without authentication; expected 127.0.0.1 unless that is wanted",
    )


def renewal_notes(settings: Settings, installation: Installation | None) -> tuple[str, ...]:
    """A warning when a renewed certificate reaches the quorum but not the secure client port: before
    3.8.5 ZooKeeper's client port keeps the certificate it started with until a restart."""
    if (
        settings.tls_reload_interval == 0
        or settings.secure_client_port is None
        or installation is None
        or installation.supports("client_cert_reload")
    ):
        return ()
    return (
        f"{settings.label('tls_reload_interval')}={settings.tls_reload_interval}: ZooKeeper "
        f"{installation.version} reloads a renewed certificate on the quorum ports only; the secure client "
        f"port {settings.secure_client_port} takes it at the next restart (3.8.5 and later reload both)",
    )


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
