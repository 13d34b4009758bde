"""How ZooKeeper is launched: the JVM flags zkboot adds, the command and its environment, and the
exec that hands the process over to ``zkServer.sh start-foreground`` (same PID, no shell; with TLS,
the renewal watch of zkboot.start.renewal is the server's one child).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import NoReturn

from zkboot.errors import EnvironmentProblem
from zkboot.installation import Installation
from zkboot.settings.schema import Settings
from zkboot.settings.values import heap_bytes
from zkboot.start import logconfig
from zkboot.start.sasl import JAAS_NAME, super_user_flag

SECURITY_NAME = "java.security"  # in the conf dir: the JVM's security properties zkboot overrides
# A system property only: ZooKeeper reads it once, when its digest provider's class loads.
DIGEST_PROPERTY = "zookeeper.DigestAuthenticationProvider.digestAlg"
ZOOKEEPER_DIGEST = "SHA1"  # what ZooKeeper hashes with when the property is not set
# Files the server writes (zoo.cfg and zoo.cfg.dynamic.* at each reconfiguration, snapshots, logs):
# readable by its own user only, since zoo.cfg holds the super user's digest.
SERVER_UMASK = 0o077


def digest_algorithm(settings: Settings, installation: Installation | None) -> str:
    """The hash of ZooKeeper's digest scheme: the setting's, or with ``auto`` SHA-256 where
    ZooKeeper can be told to use another than SHA1 (3.7+; no installation: taken to)."""
    if settings.digest_algorithm != "auto":
        return settings.digest_algorithm
    if installation is None or installation.supports("digest_algorithm"):
        return "SHA-256"
    return ZOOKEEPER_DIGEST


def jvm_flags(settings: Settings, heap: str, installation: Installation | None) -> tuple[str, ...]:
    """The JVM flags zkboot adds: one heap pair, the log configuration, and on Debian the classpath."""
    conf = settings.conf_dir
    flags = [f"-Xmx{heap}", f"-Xms{heap}", f"-Dzookeeper.log.dir={settings.log_dir}"]
    # One "=": the file's entries override the JDK's java.security, the rest of it stays.
    flags.append(f"-Djava.security.properties={conf}/{SECURITY_NAME}")
    backends = logconfig.backends(settings, installation)
    if "log4j" in backends:
        flags.append(f"-Dlog4j.configuration=file:{conf}/{logconfig.FILE_NAMES['log4j']}")
    if "logback" in backends:
        flags.append(f"-Dlogback.configurationFile={conf}/{logconfig.FILE_NAMES['logback']}")
    if settings.quorum_sasl_dir or settings.client_sasl_dir or settings.super_password_file:
        flags.append(f"-Djava.security.auth.login.config={conf}/{JAAS_NAME}")
    if settings.super_password_file:  # zkboot's reconfig logs in as the super user by SASL
        flags.append(super_user_flag())
    if settings.fips_mode != "auto":
        flags.append(f"-Dzookeeper.fips-mode={'true' if settings.fips_mode == 'on' else 'false'}")
    algorithm = digest_algorithm(settings, installation)
    if algorithm != ZOOKEEPER_DIGEST:
        flags.append(f"-D{DIGEST_PROPERTY}={algorithm}")
    if installation is not None and installation.layout == "fixed":
        flags += ["-cp", ":".join((conf, *installation.classpath))]
    return tuple(flags)


def argv(installation: Installation, zoo_cfg: str) -> list[str]:
    # An absolute config path: a relative one resolves against the script's own conf dir.
    return [str(installation.zkserver), "start-foreground", zoo_cfg]


def environment(base: Mapping[str, str], settings: Settings, jvmflags: Sequence[str], heap: str) -> dict[str, str]:
    """The environment that makes either layout use zkboot's conf dir, heap and log configuration.

    Upstream zkEnv.sh honours ZOOCFGDIR (and then sources our java.env, which assigns the same
    SERVER_JVMFLAGS); Debian's ignores it, but passes SERVER_JVMFLAGS through, classpath included.
    A JVMFLAGS the user set is left alone: the scripts put it after ours, so it can override.
    Upstream 3.5+ zkEnv.sh also puts ``-Xmx${ZK_SERVER_HEAP}m`` (default 1000) in front of
    SERVER_JVMFLAGS; ZK_SERVER_HEAP is set to our heap so that both say the same size.
    """
    env = dict(base)
    env["ZOOCFGDIR"] = settings.conf_dir
    env["ZOOCFG"] = "zoo.cfg"
    env["ZOO_LOG_DIR"] = settings.log_dir
    env["ZOO_LOG4J_PROP"] = f"{settings.log_level},CONSOLE"
    env["SERVER_JVMFLAGS"] = " ".join(jvmflags)
    env["ZK_SERVER_HEAP"] = str((heap_bytes(heap) or 0) >> 20)  # the heap was validated: never 0
    return env


def execute(command: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    os.umask(SERVER_UMASK)  # kept across exec: the server's files are created with it
    try:
        os.execve(command[0], list(command), dict(env))
    except OSError as exc:
        raise EnvironmentProblem(
            f"{command[0]}: cannot execute ({exc.strerror}); expected an executable zkServer.sh"
        ) from None
