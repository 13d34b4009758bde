"""The zoo.cfg keys ZooKeeper knows, for checking ``--set key=value`` / ``ZK_CFG_EXTRA``.

Keys zkboot writes from its own settings are refused (two lines for one key would leave the
reader guessing which wins).  Unknown keys are written, since ZooKeeper passes unknown keys on as
``zookeeper.<key>`` system properties, but get a warning naming the closest known key: the old
``autopurge.purgeInteval`` typo silently disabled purging for years.

Sources: the ZooKeeper Administrator's Guide, configuration parameters (3.4 to 3.9).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# Keys zkboot writes itself, and the setting that controls each (named as the schema names it).
MANAGED = {
    "clientPort": "client_port",
    "dataDir": "data_dir",
    "dataLogDir": "data_log_dir",
    "tickTime": "tick_time",
    "initLimit": "init_limit",
    "syncLimit": "sync_limit",
    "maxClientCnxns": "max_client_cnxns",
    "minSessionTimeout": "min_session_timeout",
    "maxSessionTimeout": "max_session_timeout",
    "autopurge.snapRetainCount": "snap_retain_count",
    "autopurge.purgeInterval": "purge_interval",
    "4lw.commands.whitelist": "four_letter_words",
    "admin.enableServer": "admin_server",
    "admin.serverPort": "admin_port",
    "admin.serverAddress": "admin_address",
    "reconfigEnabled": "membership",
    "standaloneEnabled": "membership",
    "dynamicConfigFile": "membership",
    "DigestAuthenticationProvider.superDigest": "super_password_file",
}
MANAGED_PATTERN = re.compile(r"^server\.[0-9]+$")
# Keys zkboot writes only while a TLS, SASL or metrics setting is in effect (before, ``--set`` may hold them):
# the setting in effect -> (key -> the setting that controls it, key prefix -> the same).
MANAGED_WITH: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "secure_client_port": (
        {"secureClientPort": "secure_client_port", "ssl.clientAuth": "tls_client_auth",
         **dict.fromkeys(("serverCnxnFactory", "ssl.keyStore.location", "ssl.keyStore.type",
                          "ssl.trustStore.location", "ssl.trustStore.type"), "tls_dir"),
         "client.certReload": "tls_reload_interval"},
        {},
    ),
    "plain_client_port": ({"clientPortAddress": "plain_client_port"}, {}),
    "quorum_tls": (
        {"sslQuorum": "quorum_tls", "portUnification": "port_unification",
         "sslQuorumReloadCertFiles": "tls_reload_interval"},
        {"ssl.quorum.": "quorum_tls_dir"},
    ),
    "client_sasl": (dict.fromkeys(("authProvider.sasl", "sessionRequireClientSASLAuth"), "client_sasl_dir"), {}),
    # The super user's SASL login (zkboot's own reconfig).
    "super_sasl": ({"authProvider.sasl": "super_password_file"}, {}),
    "quorum_sasl": (
        dict.fromkeys(("quorum.auth.learnerRequireSasl", "quorum.auth.serverRequireSasl"), "quorum_sasl_require"),
        {"quorum.auth.": "quorum_sasl_dir"},
    ),
    # The provider's other keys (httpHost, exportJvmInfo, ...) stay the user's.
    "metrics_port": (dict.fromkeys(("metricsProvider.className", "metricsProvider.httpPort"), "metrics_port"), {}),
}  # fmt: skip

KNOWN = frozenset((
    "secureClientPort", "clientPortAddress", "secureClientPortAddress", "observerMasterPort",
    "globalOutstandingLimit", "preAllocSize", "snapCount", "commitLogCount", "snapSizeLimitInKb",
    "txnLogSizeLimitInKb", "maxCnxns", "traceFile", "syncEnabled", "fsync.warningthresholdms", "electionAlg",
    "electionPortBindRetry", "leaderServes", "cnxTimeout", "forceSync", "jute.maxbuffer", "skipACL",
    "quorumListenOnAllIPs", "standaloneEnabled", "reconfigEnabled", "dynamicConfigFile", "tcpKeepAlive",
    "clientTcpKeepAlive", "localSessionsEnabled", "localSessionsUpgradingEnabled", "peerType",
    "connectToLearnerMasterLimit", "multiAddress.enabled", "multiAddress.reachabilityCheckEnabled",
    "multiAddress.reachabilityCheckTimeoutMs", "admin.serverAddress", "admin.idleTimeout", "admin.commandURL",
    "admin.portUnification", "admin.forceHttps", "admin.needClientAuth", "metricsProvider.className",
    "metricsProvider.httpHost", "metricsProvider.httpPort", "metricsProvider.exportJvmInfo",
    "metricsProvider.httpsPort", "metricsProvider.httpsHost", "serverCnxnFactory", "sslQuorum", "portUnification",
    "sslQuorumReloadCertFiles", "client.portUnification", "client.certReload",
    "netty.server.outstandingHandshake.limit", "quorum.auth.enableSasl", "quorum.auth.learnerRequireSasl",
    "quorum.auth.serverRequireSasl", "quorum.auth.learner.saslLoginContext", "quorum.auth.server.saslLoginContext",
    "quorum.auth.kerberos.servicePrincipal", "quorum.cnxn.threads.size", "quorum.cnxn.timeout",
    "snapshot.trust.empty", "snapshot.compression.method", "audit.enable", "sessionRequireClientSASLAuth",
    "enforceAuthEnabled", "enforceAuthSchemes", "enforceQuota", "digest.enabled", "largeRequestMaxBytes",
    "largeRequestThreshold", "learner.asyncSending", "learner.closeSocketAsync", "leader.closeSocketAsync",
    "flushDelay", "maxWriteQueuePollTime", "maxBatchSize", "requestThrottleLimit", "requestThrottleStallTime",
    "requestThrottleDropStale", "throttledOpWaitTime", "connectionMaxTokens", "connectionTokenFillTime",
    "connectionTokenFillCount", "connectionFreezeTime", "connectionDropIncrease", "connectionDropDecrease",
    "connectionDecreaseRatio", "zookeeper.request_throttler.shutdownTimeout", "fips-mode",
    "serializeLastProcessedZxid.enabled",
))  # fmt: skip
# Keys that turn access control off, and the one value that keeps it on: ZooKeeper skips every ACL
# check when skipACL is "yes", and then any client may change any znode, and reconfigure the
# ensemble (refused with dynamic membership, a warning otherwise).
ACL_OFF = {"skipACL": "no"}
# Families of keys with free suffixes.
KNOWN_PREFIXES = (
    "ssl.", "ssl.quorum.", "authProvider.", "group.", "weight.", "zookeeper.",
    "metricsProvider.", "jvm.pause.",
)  # fmt: skip


def managed_key_problems(
    extra: Iterable[tuple[str, str]], source: str, label: Callable[[str], str], in_use: Iterable[str] = ()
) -> list[str]:
    """Extra keys that zkboot writes from a setting of its own (those of MANAGED_WITH when their
    setting is ``in_use``), and keys given twice."""
    problems = []
    seen: set[str] = set()
    owners = dict(MANAGED)
    prefixes = []
    for setting in in_use:
        keys, starts = MANAGED_WITH[setting]
        owners.update(keys)
        prefixes += list(starts.items())
    for key, _value in extra:
        if key in seen:
            problems.append(f"{source}: {key} is given twice; expected each zoo.cfg key once")
        seen.add(key)
        owner = owners.get(key) or next((setting for start, setting in prefixes if key.startswith(start)), None)
        if owner is not None:
            problems.append(f"{source}: {key} is written by zkboot; set it with {label(owner)}")
        elif MANAGED_PATTERN.match(key):
            problems.append(
                f"{source}: {key} is written by zkboot from --servers and the pod's identity; "
                "expected a key other than server.N"
            )
    return problems


def acl_off(extra: Iterable[tuple[str, str]]) -> list[str]:
    """The entries that would turn ZooKeeper's ACL checks off, as ``key=value``."""
    return [f"{key}={value}" for key, value in extra if key in ACL_OFF and value != ACL_OFF[key]]


def warnings(extra: Iterable[tuple[str, str]], label: Callable[[str], str]) -> list[str]:
    """One warning for every key ZooKeeper does not know, naming the likely intended key, and one
    for an entry that turns ACLs off.

    ``label`` names a setting (by its name in MANAGED) as a message should: flag and variable.
    """
    found = [
        f"zoo.cfg entry {entry} turns every ACL check off: any client may read, change and delete every znode"
        for entry in acl_off(extra)
    ]
    candidates = sorted(KNOWN | set(MANAGED))
    for key, _value in extra:
        if key in KNOWN or key.startswith(KNOWN_PREFIXES):
            continue
        import difflib  # only for an unknown key: every pod's start would pay its import

        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.75)
        hint = ""
        if close:
            how = f" (set with {label(MANAGED[close[0]])})" if close[0] in MANAGED else ""
            hint = f"; did you mean {close[0]}{how}?"
        found.append(f"zoo.cfg key {key} is not one ZooKeeper documents{hint}")
    return found
