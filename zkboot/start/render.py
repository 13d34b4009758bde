"""The text of every file a pod gets, and the JVM flags (pure: nothing is read or written but the
templates).

zoo.cfg is built line by line here; java.env and the log configurations are ``string.Template``
files in ``zkboot/start/templates``, filled with ``substitute``: a missing value is a KeyError to
surface, never an empty string.  (No template engine: importing one cost every pod's start a
third of zkboot's own time.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from string import Template

from zkboot import __version__
from zkboot.record import Record
from zkboot.start import sasl
from zkboot.start.identity import Identity
from zkboot.start.install import Installation, older
from zkboot.start.settings import Settings

LOG_PATTERN = "%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n"
LOG_CONFIG_FILES = {"log4j": "log4j.properties", "logback": "logback.xml"}
# The JVM's security properties zkboot overrides (java.security in the conf dir).  A StatefulSet's
# peers appear in DNS one by one as their pods are created, and a member that looked a peer up
# too early must find it as soon as it exists: the JDK's java.security caches a failed lookup for
# 10 s (networkaddress.cache.negative.ttl), which the sun.net.inetaddr.negative.ttl system property
# cannot override once that file sets it.  With OrderedReady, that cache held every first boot of
# 3 members apart for 20 s and more: a member elected leader waits initLimit ticks for a follower
# that cannot resolve its name.
SECURITY_NAME = "java.security"
SECURITY_PROPERTIES = (("networkaddress.cache.negative.ttl", "0"),)
# logback has no FATAL; ERROR is the closest it logs.
LOGBACK_LEVELS = {"FATAL": "ERROR"}
# Four-letter words zkboot's own probes and metrics need; the user's list is merged with these.
REQUIRED_4LW = ("ruok", "srvr", "mntr")

TEMPLATES = Path(__file__).parent / "templates"


def fill(name: str, **values: object) -> str:
    """The template ``name`` (``<name>.tmpl``) with every ``${key}`` replaced."""
    return Template((TEMPLATES / f"{name}.tmpl").read_text()).substitute(values)


MASKED = "<masked>"


class RenderedFile(Record):
    __slots__ = ("content", "kind", "path", "private", "shown")
    path: str
    content: str
    kind: str  # "config" (rewritten every start), "myid" (written only when missing) or "membership"
    shown: str | None  # the content as ``render`` prints it, secrets masked; None: the content
    private: bool  # holds a secret: written readable by its owner only (0600)

    def __init__(self, path: str, content: str, kind: str, shown: str | None = None, private: bool = False) -> None:
        self.path, self.content, self.kind, self.shown, self.private = path, content, kind, shown, private

    @property
    def display(self) -> str:
        return self.content if self.shown is None else self.shown


def super_digest(password: str) -> str:
    """ZooKeeper's DigestAuthenticationProvider digest of the super user: base64(sha1("super:<password>"))."""
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha1(f"super:{password}".encode()).digest()).decode("ascii")


NETTY_FACTORY = "org.apache.zookeeper.server.NettyServerCnxnFactory"
KEYSTORES = {"client": "client-keystore.pem", "quorum": "quorum-keystore.pem"}  # in the conf dir


def keystore_path(settings: Settings, role: str) -> str:
    return str(Path(settings.conf_dir) / KEYSTORES[role])


def tls_entries(settings: Settings) -> list[tuple[str, str]]:
    """The zoo.cfg entries of the TLS settings in effect (key stores zkboot writes, CAs as mounted)."""
    entries: list[tuple[str, str]] = []
    if settings.secure_client_port is not None and settings.tls_dir:
        entries += [
            ("secureClientPort", str(settings.secure_client_port)),
            ("serverCnxnFactory", NETTY_FACTORY),
            ("ssl.keyStore.location", keystore_path(settings, "client")),
            ("ssl.keyStore.type", "PEM"),
            ("ssl.trustStore.location", str(Path(settings.tls_dir) / "ca.crt")),
            ("ssl.trustStore.type", "PEM"),
            ("ssl.clientAuth", settings.tls_client_auth),
        ]
    quorum = settings.quorum_tls_files
    if quorum is not None:
        entries += [
            ("sslQuorum", "true" if settings.quorum_tls else "false"),
            ("portUnification", "true" if settings.port_unification else "false"),
            ("ssl.quorum.keyStore.location", keystore_path(settings, "quorum")),
            ("ssl.quorum.keyStore.type", "PEM"),
            ("ssl.quorum.trustStore.location", str(Path(quorum) / "ca.crt")),
            ("ssl.quorum.trustStore.type", "PEM"),
            # Peers are told apart by the ensemble's own CA; a pod IP's reverse name is not
            # reliably its StatefulSet name, which hostname verification would need.
            ("ssl.quorum.hostnameVerification", "false"),
        ]
    return entries


def security_entries(settings: Settings, require_client_sasl: bool = True) -> list[tuple[str, str]]:
    """zoo.cfg's TLS entries, then SASL's (``require_client_sasl``: the installation can refuse
    sessions without SASL)."""
    quorum_sasl = sasl.quorum_entries(settings.quorum_sasl_require) if settings.quorum_sasl_dir else []
    client_sasl = sasl.client_entries(require_client_sasl) if settings.client_sasl_dir else []
    return tls_entries(settings) + quorum_sasl + client_sasl


def client_sasl_enforced(installation: Installation | None) -> bool:
    """Whether the installation can refuse sessions without SASL (unknown: assume it can)."""
    version = installation.version if installation is not None else None
    return version is None or not older(version, sasl.REQUIRE_SINCE)


def zoo_cfg(
    settings: Settings,
    identity: Identity,
    password: str | None,
    dynamic_file: str | None,
    installation: Installation | None = None,
) -> RenderedFile:
    """zoo.cfg: in the conf dir; with dynamic membership beside its dynamic file, which ZooKeeper
    rewrites with it at every reconfiguration (so both live on the volume, with the data)."""
    security = security_entries(settings, client_sasl_enforced(installation))
    path = str(Path(dynamic_file).parent / "zoo.cfg") if dynamic_file else str(Path(settings.conf_dir) / "zoo.cfg")
    if password is None:
        return RenderedFile(path, zoo_cfg_text(settings, identity, dynamic_file, security, None), "config")
    text = zoo_cfg_text(settings, identity, dynamic_file, security, super_digest(password))
    shown = zoo_cfg_text(settings, identity, dynamic_file, security, MASKED)
    return RenderedFile(path, text, "config", shown=shown)


def zoo_cfg_text(
    s: Settings,
    identity: Identity,
    dynamic_file: str | None,
    security: Sequence[tuple[str, str]],
    digest: str | None,
) -> str:
    """zoo.cfg's lines: the client port (in the dynamic file instead, with dynamic membership),
    the paths and limits, the static server list, the four-letter words and the admin server,
    the super digest, the TLS and SASL keys, the dynamic membership keys, then ``--set``'s."""
    lines = [f"# Written by zkboot {__version__} for {identity.fqdn} (myid {identity.myid}) on every start; "
             "edits here are lost."]  # fmt: skip
    if not dynamic_file:
        lines.append(f"clientPort={s.client_port}")
        if s.plain_loopback:
            lines.append("clientPortAddress=127.0.0.1")
    lines += [
        f"dataDir={s.data_dir}",
        f"dataLogDir={s.data_log_dir}",
        f"tickTime={s.tick_time}",
        f"initLimit={s.init_limit}",
        f"syncLimit={s.sync_limit}",
        f"maxClientCnxns={s.max_client_cnxns}",
        f"minSessionTimeout={s.min_session_timeout}",
        f"maxSessionTimeout={s.max_session_timeout}",
        f"autopurge.snapRetainCount={s.snap_retain_count}",
        f"autopurge.purgeInterval={s.purge_interval}",
    ]
    if not dynamic_file:
        lines += [member.server_line(s.server_port, s.election_port) for member in identity.members]
    lines += [
        f"4lw.commands.whitelist={','.join(whitelist(s))}",
        f"admin.enableServer={'true' if s.admin_server else 'false'}",
        f"admin.serverPort={s.admin_port}",
    ]
    if digest:
        lines.append(f"DigestAuthenticationProvider.superDigest=super:{digest}")
    lines += [f"{key}={value}" for key, value in security]
    if dynamic_file:
        lines += ["reconfigEnabled=true", "standaloneEnabled=false", f"dynamicConfigFile={dynamic_file}"]
    lines += [f"{key}={value}" for key, value in s.extra]
    return "\n".join(lines) + "\n"


def log_backends(settings: Settings, installation: Installation | None) -> tuple[str, ...]:
    """Which log configuration(s) to write: the setting, else the installation's, else both."""
    if settings.log_backend != "auto":
        return (settings.log_backend,)
    if installation is not None:
        return (installation.log_backend,)
    return ("log4j", "logback")


def whitelist(settings: Settings) -> tuple[str, ...]:
    """The 4lw whitelist to write: ours first, then the user's additions."""
    if "*" in settings.four_letter_words:
        return ("*",)
    return tuple(dict.fromkeys(REQUIRED_4LW + settings.four_letter_words))


def server_jvmflags(settings: Settings, heap: str, installation: Installation | None) -> tuple[str, ...]:
    """The JVM flags zkboot adds: one heap pair, the log configuration, and on Debian the classpath."""
    conf = settings.conf_dir
    flags = [f"-Xmx{heap}", f"-Xms{heap}", f"-Dzookeeper.log.dir={settings.log_dir}"]
    # One "=": the file's entries override the JDK's java.security, the rest of it stays.
    flags.append(f"-Djava.security.properties={conf}/{SECURITY_NAME}")
    backends = log_backends(settings, installation)
    if "log4j" in backends:
        flags.append(f"-Dlog4j.configuration=file:{conf}/log4j.properties")
    if "logback" in backends:
        flags.append(f"-Dlogback.configurationFile={conf}/logback.xml")
    if settings.quorum_sasl_dir or settings.client_sasl_dir:
        flags.append(f"-Djava.security.auth.login.config={conf}/{sasl.JAAS_NAME}")
    if settings.fips_mode != "auto":
        flags.append(f"-Dzookeeper.fips-mode={'true' if settings.fips_mode == 'on' else 'false'}")
    if installation is not None and installation.layout == "fixed":
        flags += ["-cp", ":".join((conf, *installation.classpath))]
    return tuple(flags)


def security_properties() -> str:
    """The JVM security properties zkboot overrides (see SECURITY_PROPERTIES)."""
    lines = [f"# Written by zkboot {__version__} on every start: security properties over the JDK's java.security."]
    lines += [f"{key}={value}" for key, value in SECURITY_PROPERTIES]
    return "\n".join(lines) + "\n"


def render(
    settings: Settings,
    identity: Identity,
    jvmflags: Sequence[str],
    installation: Installation | None,
    password: str | None = None,
    dynamic: tuple[str, str] | None = None,
    keystores: dict[str, str | None] | None = None,
    account: sasl.Account | None = None,
    client_account: sasl.Account | None = None,
) -> tuple[RenderedFile, ...]:
    """zoo.cfg, java.env (with ``jvmflags``, as the pipeline computed them), the log configuration,
    myid, with dynamic membership its dynamic file (``dynamic``: path and text), and the TLS key
    stores (``keystores``: role -> PEM text, None when it could not be read: ``render`` only)."""
    conf = Path(settings.conf_dir)
    java_env = fill("java.env", version=__version__, log_dir=settings.log_dir, server_jvmflags=" ".join(jvmflags))
    files = [
        zoo_cfg(settings, identity, password, dynamic[0] if dynamic else None, installation),
        RenderedFile(str(conf / "java.env"), java_env, "config"),
        RenderedFile(str(conf / SECURITY_NAME), security_properties(), "config"),
    ]
    for backend in log_backends(settings, installation):
        level = settings.log_level
        if backend == "logback":
            level = LOGBACK_LEVELS.get(level, level)
        text = fill(LOG_CONFIG_FILES[backend], version=__version__, level=level, pattern=LOG_PATTERN)
        files.append(RenderedFile(str(conf / LOG_CONFIG_FILES[backend]), text, "config"))
    files.append(RenderedFile(str(Path(settings.data_dir) / "myid"), f"{identity.myid}\n", "myid"))
    if dynamic is not None:
        files.append(RenderedFile(dynamic[0], dynamic[1], "membership"))
    if settings.quorum_sasl_dir or settings.client_sasl_dir:
        unread = sasl.Account("<unread>", "")
        quorum = (account or unread) if settings.quorum_sasl_dir else None
        client = (client_account or unread) if settings.client_sasl_dir else None
        shown = sasl.jaas(quorum, client, masked=True)
        complete = (quorum is None or account is not None) and (client is None or client_account is not None)
        text = sasl.jaas(quorum, client) if complete else ""
        files.append(RenderedFile(str(conf / sasl.JAAS_NAME), text, "config", shown=shown, private=True))
    for role, store in (keystores or {}).items():
        files.append(RenderedFile(keystore_path(settings, role), store or "", "config", shown=MASKED, private=True))
    return tuple(files)
