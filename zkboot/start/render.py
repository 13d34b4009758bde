"""The text of every file a pod gets, each rendered once (pure: nothing is read or written but
zkboot's templates, in ``zkboot/start/templates``): zoo.cfg and the dynamic file from the plan and
the membership decision, the others (``fixed_files``) from the plan alone, before any peer is asked.

zoo.cfg, java.env, java.security and the JAAS file come from jinja2 templates; the log
configuration was rendered with the plan (zkboot.start.logconfig), the TLS key stores made from the
Secret's files (zkboot.start.tls).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from zkboot import __version__
from zkboot.ensemble.join import Decision
from zkboot.secrets import Account
from zkboot.settings.schema import Settings
from zkboot.start import logconfig, sasl
from zkboot.start.launch import SECURITY_NAME, digest_algorithm
from zkboot.start.plan import Plan
from zkboot.start.templating import fill

MASKED = "<masked>"
# The JVM's security properties zkboot overrides (java.security in the conf dir).  A StatefulSet's
# peers appear in DNS one by one as their pods are created, and a member that looked a peer up
# too early must find it as soon as it exists: the JDK's java.security caches a failed lookup for
# 10 s (networkaddress.cache.negative.ttl), which the sun.net.inetaddr.negative.ttl system property
# cannot override once that file sets it.  With OrderedReady, that cache held every first boot of
# 3 members apart for 20 s and more: a member elected leader waits initLimit ticks for a follower
# that cannot resolve its name.
SECURITY_PROPERTIES = (("networkaddress.cache.negative.ttl", "0"),)
# Four-letter words zkboot's own probes and metrics need; the user's list is merged with these.
REQUIRED_4LW = ("ruok", "srvr", "mntr")
NETTY_FACTORY = "org.apache.zookeeper.server.NettyServerCnxnFactory"
PROMETHEUS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
KEYSTORES = {"client": "client-keystore.pem", "quorum": "quorum-keystore.pem"}  # in the conf dir
HASHES = {"SHA1": "sha1", "SHA-256": "sha256", "SHA3-256": "sha3_256"}  # Java's names -> hashlib's


@dataclass(frozen=True, slots=True)
class RenderedFile:
    path: str
    content: str
    kind: str  # "config" (rewritten every start), "myid" (written only when missing) or "membership"
    shown: str | None = None  # the content as ``render`` prints it, secrets masked; None: the content
    private: bool = False  # holds a secret: written readable by its owner only (0600)

    @property
    def display(self) -> str:
        return self.content if self.shown is None else self.shown


def render(
    plan: Plan, decision: Decision | None, fixed: tuple[RenderedFile, ...] | None = None
) -> tuple[RenderedFile, ...]:
    """zoo.cfg, java.env, java.security, the log configuration, myid, with dynamic membership the
    dynamic file ``decision`` names (unless it is ZooKeeper's own, kept), the JAAS file and the TLS
    key stores; ``fixed``: ``fixed_files(plan)``, when they were rendered already."""
    fixed = fixed_files(plan) if fixed is None else fixed
    dynamic_file = str(plan.state_dir / decision.name) if decision is not None else None
    membership = []
    if decision is not None and decision.text is not None and dynamic_file is not None:
        membership.append(RenderedFile(dynamic_file, decision.text, "membership"))
    after_myid = next(i for i, f in enumerate(fixed) if f.kind == "myid") + 1
    return (zoo_cfg(plan, dynamic_file), *fixed[:after_myid], *membership, *fixed[after_myid:])


def fixed_files(plan: Plan) -> tuple[RenderedFile, ...]:
    """Every file whose path and text the membership decision does not change: java.env,
    java.security, the log configuration, myid, the JAAS file and the TLS key stores."""
    settings, conf = plan.settings, Path(plan.settings.conf_dir)
    java_env = fill("java.env", version=__version__, log_dir=settings.log_dir, server_jvmflags=" ".join(plan.jvmflags))
    security = fill(SECURITY_NAME, version=__version__, properties=SECURITY_PROPERTIES)
    files = [
        RenderedFile(str(conf / "java.env"), java_env, "config"),
        RenderedFile(str(conf / SECURITY_NAME), security, "config"),
    ]
    for backend, text in plan.log_configs.items():
        files.append(RenderedFile(str(conf / logconfig.FILE_NAMES[backend]), text, "config"))
    files.append(RenderedFile(str(Path(settings.data_dir) / "myid"), f"{plan.identity.myid}\n", "myid"))
    if settings.quorum_sasl_dir or settings.client_sasl_dir or settings.super_password_file:
        files.append(jaas_file(plan))
    for store in plan.secrets.keystores:
        path = keystore_path(settings, store.role)
        files.append(RenderedFile(path, store.text or "", "config", shown=MASKED, private=True))
    return tuple(files)


def zoo_cfg(plan: Plan, dynamic_file: str | None) -> RenderedFile:
    """zoo.cfg, with the super user's digest masked in what ``render`` shows; holding the digest,
    it is written 0600."""
    settings, password = plan.settings, plan.secrets.password
    enforced = plan.installation is None or plan.installation.supports("require_client_sasl")
    client_reload = plan.installation is None or plan.installation.supports("client_cert_reload")
    values = {
        "version": __version__,
        "settings": settings,
        "identity": plan.identity,
        "dynamic_file": dynamic_file,
        "whitelist": whitelist(settings),
        "security": security_entries(settings, enforced, client_reload),
        "prometheus_provider": PROMETHEUS_PROVIDER,
    }
    if password is None:
        return RenderedFile(plan.zoo_cfg, fill("zoo.cfg", digest=None, **values), "config")
    digest = super_digest(password, digest_algorithm(settings, plan.installation))
    text = fill("zoo.cfg", digest=digest, **values)
    return RenderedFile(plan.zoo_cfg, text, "config", shown=fill("zoo.cfg", digest=MASKED, **values), private=True)


def jaas_file(plan: Plan) -> RenderedFile:
    """The JAAS file (0600); in ``render``, with an account that could not be read, empty but shown
    with where its parts go."""
    settings, secrets = plan.settings, plan.secrets
    unread = Account("<unread>", "")
    quorum = (secrets.quorum_account or unread) if settings.quorum_sasl_dir else None
    client = (secrets.client_account or unread) if settings.client_sasl_dir else None
    password = secrets.password if settings.super_password_file else None
    complete = (
        (quorum is None or secrets.quorum_account is not None)
        and (client is None or secrets.client_account is not None)
        and password != ""  # unread, in render
    )
    text = sasl.jaas(quorum, client, super_password=password) if complete else ""
    path = str(Path(settings.conf_dir) / sasl.JAAS_NAME)
    shown = sasl.jaas(quorum, client, masked=True, super_password=password)
    return RenderedFile(path, text, "config", shown=shown, private=True)


def super_digest(password: str, algorithm: str) -> str:
    """ZooKeeper's DigestAuthenticationProvider digest of the super user: base64 of the hash
    (``algorithm``, as Java names it) of ``super:<password>``."""
    digest = hashlib.new(HASHES[algorithm], f"super:{password}".encode()).digest()
    return base64.b64encode(digest).decode("ascii")


def keystore_path(settings: Settings, role: str) -> str:
    return str(Path(settings.conf_dir) / KEYSTORES[role])


def whitelist(settings: Settings) -> tuple[str, ...]:
    """The 4lw whitelist to write: ours first, then the user's additions."""
    if "*" in settings.four_letter_words:
        return ("*",)
    return tuple(dict.fromkeys(REQUIRED_4LW + settings.four_letter_words))


def tls_entries(settings: Settings, client_reload: bool = True) -> list[tuple[str, str]]:
    """The zoo.cfg entries of the TLS settings in effect (key stores zkboot writes, CAs as mounted).

    With renewals watched (zkboot.start.renewal rewrites a key store when its Secret changes), the
    quorum reloads its key store on that change; the client port reads its key store at every
    connection anyway, and ``client_reload`` (the installation has client.certReload) also renews
    its certificate authentication provider, which otherwise keeps the CA it started with."""
    entries: list[tuple[str, str]] = []
    watched = settings.tls_reload_interval > 0
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
        if watched and client_reload:
            entries.append(("client.certReload", "true"))
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
        if watched:
            entries.append(("sslQuorumReloadCertFiles", "true"))
    return entries


def security_entries(
    settings: Settings, require_client_sasl: bool = True, client_reload: bool = True
) -> list[tuple[str, str]]:
    """zoo.cfg's TLS entries, then SASL's (``require_client_sasl``: the installation can refuse
    sessions without SASL; ``client_reload``: it has client.certReload)."""
    quorum_sasl = sasl.quorum_entries(settings.quorum_sasl_require) if settings.quorum_sasl_dir else []
    client_sasl = sasl.client_entries(require_client_sasl) if settings.client_sasl_dir else []
    if settings.super_password_file and not client_sasl:  # the super user's SASL login
        client_sasl = [("authProvider.sasl", sasl.SASL_PROVIDER)]
    return tls_entries(settings, client_reload) + quorum_sasl + client_sasl
