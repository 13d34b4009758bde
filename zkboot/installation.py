"""Find the installed ZooKeeper and learn what its start script will and will not honour.

Two layouts exist in the wild:

* upstream (the Apache tarball, the official image: ``/opt/zookeeper/bin``): ``zkEnv.sh`` takes
  ``ZOOCFGDIR`` from the environment, sources ``$ZOOCFGDIR/java.env`` and puts the conf dir and
  ``lib/*.jar`` on the classpath;
* fixed (Debian's ``/usr/share/zookeeper/bin``): ``zkEnv.sh`` is a link to
  ``/etc/zookeeper/conf/environment``, which assigns ``ZOOCFGDIR`` and ``CLASSPATH``
  unconditionally and never reads java.env.  Only ``JVMFLAGS``/``SERVER_JVMFLAGS`` get through,
  after the script's own ``-cp``, so zkboot passes its own ``-cp`` there (the last one wins).

The layout is "fixed" when zkEnv.sh assigns ``ZOOCFGDIR`` at the start of a line, outside any
``if``.  The log backend is what the classpath holds: logback-classic means logback (upstream
3.8+), an slf4j-log4j12/reload4j binding means log4j 1.x (3.4 to 3.7); Debian's classpath has no
binding at all, so zkboot adds Debian's ``slf4j-log4j12`` and ``log4j-1.2`` jars.

What a release can do is decided here alone: ``SINCE`` names the first release of each feature
zkboot relies on, and ``Installation.supports`` answers from it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from zkboot.errors import EnvironmentProblem

SEARCH_DIRS = ("/opt/zookeeper/bin", "/usr/share/zookeeper/bin")
VERSION_JAR = re.compile(r"^zookeeper-([0-9]+\.[0-9]+\.[0-9]+)\.jar$")
LOGBACK_JAR = re.compile(r"^logback-classic.*\.jar$")
MISSING_FROM_MANIFEST = ("servlet-api.jar", "netty-codec.jar")
LOG4J_BINDING_JAR = re.compile(r"^slf4j-(log4j12|reload4j)(-[0-9.]+)?\.jar$")
PROMETHEUS_JAR = re.compile(r"^zookeeper-prometheus-metrics.*\.jar$")

# The first release of each feature zkboot relies on.
SINCE = {
    "quorum_sasl": "3.4.10",  # quorum.auth.*
    "membership_config": "3.5.0",  # /zookeeper/config: a serving member tells its membership
    "dynamic_reconfig": "3.5.3",
    "pem_stores": "3.5.5",  # PEM key and trust stores, sslQuorum and portUnification
    "require_client_sasl": "3.6.0",  # sessionRequireClientSASLAuth
    "prometheus_provider": "3.6.0",  # metricsProvider.className, the Prometheus metrics provider
    "digest_algorithm": "3.7.0",  # zookeeper.DigestAuthenticationProvider.digestAlg (before: SHA1 only)
    # The secure client port reloads a replaced key store: 3.8.5 with zookeeper.client.certReload
    # (3.9.0 reads the key store at each connection, and the property also renews the x509 provider).
    "client_cert_reload": "3.8.5",
    "logback": "3.8.0",  # upstream's tarball logs through logback, no longer log4j 1.x
    "fips_mode": "3.9.0",  # zookeeper.fips-mode, on by default
    # In FIPS mode a quorum learner refuses DIGEST-MD5, so quorum SASL never lets a member in.
    # (Client SASL is the server's side and is not refused; 3.9.0 to 3.9.3 refused neither.)
    "fips_refuses_quorum_digest": "3.9.4",
}


def older(version: str, than: str) -> bool:
    """``3.4.14`` is older than ``3.5.3``; both as the jar names them."""
    return tuple(int(x) for x in version.split(".")) < tuple(int(x) for x in than.split("."))


def release_has(version: str | None, feature: str) -> bool:
    """Whether ZooKeeper ``version`` has ``feature`` (a key of SINCE); an unknown version is taken to."""
    return version is None or not older(version, SINCE[feature])


@dataclass(frozen=True, slots=True)
class Installation:
    zkserver: Path  # bin/zkServer.sh
    layout: str  # "upstream" or "fixed"
    version: str | None  # "3.8.0", when a versioned jar tells
    log_backend: str  # "log4j" or "logback"
    classpath: tuple[str, ...]  # fixed layout: the jars zkboot puts after its conf dir
    # The Prometheus metrics provider's jar is on the classpath (upstream: in lib/); a release
    # with the provider may still ship without it (Debian's package does).
    prometheus_jar: bool = False

    @property
    def bin_dir(self) -> Path:
        return self.zkserver.parent

    def supports(self, feature: str) -> bool:
        """Whether this ZooKeeper has ``feature`` (a key of SINCE); an unknown version is taken to."""
        return release_has(self.version, feature)


def candidates(home: str | None, environ: Mapping[str, str]) -> list[Path]:
    """Where to look for zkServer.sh, in order."""
    if home:
        return [Path(home) / "bin" / "zkServer.sh"]
    found = [Path(d) / "zkServer.sh" for d in environ.get("PATH", "").split(os.pathsep) if d]
    found += [Path(d) / "zkServer.sh" for d in SEARCH_DIRS]
    return found


def find(home: str | None, environ: Mapping[str, str], source: str = "--zookeeper-home") -> Installation:
    """The first usable installation; EnvironmentProblem naming where it looked if none."""
    looked = candidates(home, environ)
    for script in looked:
        if script.is_file() and os.access(script, os.X_OK):
            return examine(script.resolve())
    if home:
        raise EnvironmentProblem(f"{source}={home}: no executable bin/zkServer.sh there")
    raise EnvironmentProblem(
        "no ZooKeeper found: expected an executable zkServer.sh on PATH, in /opt/zookeeper/bin or "
        "/usr/share/zookeeper/bin (or set ZK_HOME / ZOOKEEPER_HOME)"
    )


def examine(zkserver: Path) -> Installation:
    """What the installation of ``zkserver`` is: its layout, version, log backend and classpath."""
    bin_dir = zkserver.parent
    env_script = _read(bin_dir / "zkEnv.sh") or _read(bin_dir.parent / "libexec" / "zkEnv.sh")
    fixed = re.search(r"^ZOOCFGDIR=", env_script, re.MULTILINE) is not None
    if fixed:
        classpath = _assigned_classpath(env_script)
        lib_dirs = sorted({str(Path(jar).parent) for jar in classpath})
    else:
        classpath = []
        lib_dirs = [str(bin_dir.parent / "lib"), str(bin_dir.parent)]
    jars = [Path(d) / name for d in lib_dirs for name in _listdir(Path(d)) if name.endswith(".jar")]
    version = _version(jars, classpath)
    if fixed:
        on_path = [Path(p).name for p in classpath]
        if any(LOGBACK_JAR.match(n) for n in on_path):
            backend, extra = "logback", []
        else:
            backend, extra = "log4j", _log4j_jars(jars)
        # Debian's zookeeper.jar manifest leaves out jars its optional parts need: the servlet
        # API (else the admin server logs "Unable to load jetty" and never starts) and
        # netty-codec (else the Netty connection factory, which TLS needs, fails every client).
        extra += [str(j) for j in jars if j.name in MISSING_FROM_MANIFEST and str(j) not in classpath]
        # Only what the classpath names: the provider also needs the Prometheus client's jars.
        provider = any(PROMETHEUS_JAR.match(n) for n in on_path)
        return Installation(zkserver, "fixed", version, backend, tuple(classpath + extra), provider)
    names = [j.name for j in jars]
    if any(LOGBACK_JAR.match(n) for n in names):
        backend = "logback"
    elif any(LOG4J_BINDING_JAR.match(n) for n in names):
        backend = "log4j"
    else:
        backend = _backend_for_version(version)
    provider = any(PROMETHEUS_JAR.match(n) for n in names)
    return Installation(zkserver, "upstream", version, backend, (), provider)


def _backend_for_version(version: str | None) -> str:
    return "logback" if release_has(version, "logback") else "log4j"


def _log4j_jars(jars: list[Path]) -> list[str]:
    """Debian's slf4j binding and log4j 1.2, which its zookeeper.jar leaves off the classpath."""
    by_name = {j.name: j for j in jars}
    chosen = [by_name[n] for n in ("slf4j-log4j12.jar", "log4j-1.2.jar") if n in by_name]
    if len(chosen) != 2:
        raise EnvironmentProblem(
            "ZooKeeper's classpath has no logging backend and /usr/share/java lacks "
            "slf4j-log4j12.jar or log4j-1.2.jar; expected Debian's libslf4j-java and liblog4j1.2-java"
        )
    return [str(j) for j in chosen]


def _assigned_classpath(env_script: str) -> list[str]:
    match = re.search(r"^CLASSPATH=\"?([^\"\n]*)\"?", env_script, re.MULTILINE)
    if not match:
        return []
    return [p for p in match.group(1).split(":") if p.endswith(".jar")]


def _version(jars: list[Path], classpath: list[str]) -> str | None:
    targets = {os.path.realpath(p) for p in classpath}
    versions = []
    for jar in jars:
        match = VERSION_JAR.match(jar.name)
        if match:
            preferred = not targets or os.path.realpath(jar) in targets
            versions.append((preferred, match.group(1)))
    return max(versions)[1] if versions else None


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _listdir(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []
