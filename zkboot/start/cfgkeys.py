"""The zoo.cfg keys ZooKeeper knows, for checking ``--set key=value`` / ``ZK_CFG_EXTRA``.

Keys zkboot writes from its own settings are refused (two lines for one key would leave the
reader guessing which wins).  Unknown keys are written, since ZooKeeper passes unknown keys on as
``zookeeper.<key>`` system properties, but get a warning naming the closest known key: the old
``autopurge.purgeInteval`` typo silently disabled purging for years.

Sources: the ZooKeeper Administrator's Guide, configuration parameters (3.4 to 3.9).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from zkboot.errors import UsageError

# Keys zkboot writes itself, and the setting that controls each.
MANAGED = {
    "clientPort": "--client-port / ZK_CLIENT_PORT",
    "dataDir": "--data-dir / ZK_DATA_DIR",
    "dataLogDir": "--data-log-dir / ZK_DATA_LOG_DIR",
    "tickTime": "--tick-time / ZK_TICK_TIME",
    "initLimit": "--init-limit / ZK_INIT_LIMIT",
    "syncLimit": "--sync-limit / ZK_SYNC_LIMIT",
    "maxClientCnxns": "--max-client-cnxns / ZK_MAX_CLIENT_CNXNS",
    "minSessionTimeout": "--min-session-timeout / ZK_MIN_SESSION_TIMEOUT",
    "maxSessionTimeout": "--max-session-timeout / ZK_MAX_SESSION_TIMEOUT",
    "autopurge.snapRetainCount": "--snap-retain-count / ZK_SNAP_RETAIN_COUNT",
    "autopurge.purgeInterval": "--purge-interval / ZK_PURGE_INTERVAL",
    "4lw.commands.whitelist": "--4lw-whitelist / ZK_4LW_WHITELIST",
    "admin.enableServer": "--admin-server / ZK_ADMIN_SERVER",
    "admin.serverPort": "--admin-port / ZK_ADMIN_PORT",
}
MANAGED_PATTERN = re.compile(r"^server\.[0-9]+$")

KNOWN = frozenset(
    [
        "secureClientPort",
        "clientPortAddress",
        "secureClientPortAddress",
        "observerMasterPort",
        "globalOutstandingLimit",
        "preAllocSize",
        "snapCount",
        "commitLogCount",
        "snapSizeLimitInKb",
        "txnLogSizeLimitInKb",
        "maxCnxns",
        "traceFile",
        "syncEnabled",
        "fsync.warningthresholdms",
        "electionAlg",
        "electionPortBindRetry",
        "leaderServes",
        "cnxTimeout",
        "forceSync",
        "jute.maxbuffer",
        "skipACL",
        "quorumListenOnAllIPs",
        "standaloneEnabled",
        "reconfigEnabled",
        "dynamicConfigFile",
        "tcpKeepAlive",
        "clientTcpKeepAlive",
        "localSessionsEnabled",
        "localSessionsUpgradingEnabled",
        "peerType",
        "connectToLearnerMasterLimit",
        "multiAddress.enabled",
        "multiAddress.reachabilityCheckEnabled",
        "multiAddress.reachabilityCheckTimeoutMs",
        "admin.serverAddress",
        "admin.idleTimeout",
        "admin.commandURL",
        "admin.portUnification",
        "admin.forceHttps",
        "admin.needClientAuth",
        "metricsProvider.className",
        "metricsProvider.httpHost",
        "metricsProvider.httpPort",
        "metricsProvider.exportJvmInfo",
        "metricsProvider.httpsPort",
        "metricsProvider.httpsHost",
        "serverCnxnFactory",
        "sslQuorum",
        "portUnification",
        "sslQuorumReloadCertFiles",
        "client.portUnification",
        "client.certReload",
        "netty.server.outstandingHandshake.limit",
        "quorum.auth.enableSasl",
        "quorum.auth.learnerRequireSasl",
        "quorum.auth.serverRequireSasl",
        "quorum.auth.learner.saslLoginContext",
        "quorum.auth.server.saslLoginContext",
        "quorum.auth.kerberos.servicePrincipal",
        "quorum.cnxn.threads.size",
        "quorum.cnxn.timeout",
        "snapshot.trust.empty",
        "snapshot.compression.method",
        "audit.enable",
        "sessionRequireClientSASLAuth",
        "enforceAuthEnabled",
        "enforceAuthSchemes",
        "enforceQuota",
        "digest.enabled",
        "largeRequestMaxBytes",
        "largeRequestThreshold",
        "learner.asyncSending",
        "learner.closeSocketAsync",
        "leader.closeSocketAsync",
        "flushDelay",
        "maxWriteQueuePollTime",
        "maxBatchSize",
        "requestThrottleLimit",
        "requestThrottleStallTime",
        "requestThrottleDropStale",
        "throttledOpWaitTime",
        "connectionMaxTokens",
        "connectionTokenFillTime",
        "connectionTokenFillCount",
        "connectionFreezeTime",
        "connectionDropIncrease",
        "connectionDropDecrease",
        "connectionDecreaseRatio",
        "zookeeper.request_throttler.shutdownTimeout",
        "fips-mode",
        "serializeLastProcessedZxid.enabled",
    ]
)
# Families of keys with free suffixes.
KNOWN_PREFIXES = (
    "ssl.", "ssl.quorum.", "authProvider.", "group.", "weight.", "zookeeper.",
    "metricsProvider.", "jvm.pause.",
)  # fmt: skip


def reject_managed(extra: Iterable[tuple[str, str]], source: str) -> None:
    """Refuse extra keys that zkboot writes from a setting of its own, and keys given twice."""
    seen: set[str] = set()
    for key, _value in extra:
        if key in seen:
            raise UsageError(f"{source}: {key} is given twice; expected each zoo.cfg key once")
        seen.add(key)
        if key in MANAGED:
            raise UsageError(f"{source}: {key} is written by zkboot; set it with {MANAGED[key]}")
        if MANAGED_PATTERN.match(key):
            raise UsageError(
                f"{source}: {key} is written by zkboot from --servers and the pod's identity; "
                "expected a key other than server.N"
            )


def warnings(extra: Iterable[tuple[str, str]]) -> list[str]:
    """One warning for every key ZooKeeper does not know, naming the likely intended key."""
    found = []
    candidates = sorted(KNOWN | set(MANAGED))
    for key, _value in extra:
        if key in KNOWN or key.startswith(KNOWN_PREFIXES):
            continue
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.75)
        hint = ""
        if close:
            how = f" (set with {MANAGED[close[0]]})" if close[0] in MANAGED else ""
            hint = f"; did you mean {close[0]}{how}?"
        found.append(f"zoo.cfg key {key} is not one ZooKeeper documents{hint}")
    return found
