"""The start settings, each declared once: what ``zkboot start/render/status/shrink``,
``start-zookeeper`` and ``zkGenConfig.sh`` take (flag, variable, default, parser, help).

The typer CLI, the old commands' parser, the help texts and docs/settings.md are generated from
these declarations (see zkboot.options).  Defaults that depend on other settings (the session
timeouts) and the checks between settings are in zkboot.settings.resolve.
"""

from __future__ import annotations

from zkboot.options import ADMIN_PORT, CLIENT_PORT, Group, Option, choice, int_in, port
from zkboot.settings.values import (
    CLIENT_AUTH,
    FIPS_MODES,
    JAVA_INT_MAX,
    LOG_BACKENDS,
    LOG_FORMATS,
    LOG_LEVELS,
    MEMBERSHIPS,
    PLAIN_BINDS,
    abs_path,
    bind_address,
    cfg_pairs,
    digest_choice,
    dns_domain,
    dns_name,
    heap_size,
    on_off,
    optional_abs_path,
    optional_port,
    word_list,
)


class Settings(Group):
    """Everything a start is made from (``zkboot start/render/status``, ``start-zookeeper``, ``zkGenConfig.sh``).

    The old ``start-zookeeper`` options come first, in its order; the session timeouts default to
    2 and 20 ticks (``zkboot.settings.resolve`` derives them).
    """

    servers = Option(
        int_in(1, 255), env="ZK_REPLICAS", default="1", legacy=True, help="number of servers in the ensemble"
    )
    data_dir = Option(
        abs_path,
        env="ZK_DATA_DIR",
        default="/var/lib/zookeeper/data",
        legacy=True,
        help="snapshot directory, holds myid",
    )
    data_log_dir = Option(
        abs_path,
        env="ZK_DATA_LOG_DIR",
        default="/var/lib/zookeeper/log",
        legacy=True,
        help="transaction log directory (the data dir instead when only that holds a log)",
    )
    log_dir = Option(
        abs_path,
        env="ZK_LOG_DIR",
        default="/var/log/zookeeper",
        legacy=True,
        help="ZooKeeper's log directory (zookeeper.log.dir)",
    )
    conf_dir = Option(
        abs_path,
        env="ZK_CONF_DIR",
        default="/opt/zookeeper/conf",
        legacy=True,
        help="where zoo.cfg, java.env and the log configuration are written",
    )
    client_port = CLIENT_PORT
    server_port = Option(port, env="ZK_SERVER_PORT", default="2888", legacy=True, help="quorum (follower) port")
    election_port = Option(port, env="ZK_ELECTION_PORT", default="3888", legacy=True, help="leader election port")
    tick_time = Option(
        int_in(1, JAVA_INT_MAX), env="ZK_TICK_TIME", default="2000", legacy=True, help="tick length in milliseconds"
    )
    init_limit = Option(
        int_in(1, JAVA_INT_MAX),
        env="ZK_INIT_LIMIT",
        default="10",
        legacy=True,
        help="ticks a follower may take to connect and sync",
    )
    sync_limit = Option(
        int_in(1, JAVA_INT_MAX), env="ZK_SYNC_LIMIT", default="5", legacy=True, help="ticks a follower may lag"
    )
    heap = Option(
        heap_size,
        env="ZK_HEAP_SIZE",
        default="2G",
        legacy=True,
        help="JVM heap (-Xmx/-Xms), e.g. 512M, or auto (half the container memory limit)",
    )
    max_client_cnxns = Option(
        int_in(0, JAVA_INT_MAX),
        env="ZK_MAX_CLIENT_CNXNS",
        default="60",
        legacy=True,
        help="connections per client IP (0 = unlimited)",
    )
    snap_retain_count = Option(
        int_in(3, JAVA_INT_MAX),
        env="ZK_SNAP_RETAIN_COUNT",
        default="3",
        legacy=True,
        help="snapshots kept by autopurge",
    )
    purge_interval = Option(
        int_in(0, JAVA_INT_MAX),
        env="ZK_PURGE_INTERVAL",
        default="0",
        legacy=True,
        help="hours between autopurge runs (0 = never)",
    )
    min_session_timeout = Option(
        int_in(1, JAVA_INT_MAX),
        env="ZK_MIN_SESSION_TIMEOUT",
        default=None,
        legacy=True,
        help="minimum session timeout in ms (default 2 x tick time)",
    )
    max_session_timeout = Option(
        int_in(1, JAVA_INT_MAX),
        env="ZK_MAX_SESSION_TIMEOUT",
        default=None,
        legacy=True,
        help="maximum session timeout in ms (default 20 x tick time)",
    )
    log_level = Option(
        choice(LOG_LEVELS, upper=True),
        env="ZK_LOG_LEVEL",
        default="INFO",
        legacy=True,
        help="ZooKeeper's log level: " + ", ".join(LOG_LEVELS),
    )
    # Settings the old scripts did not have.
    hostname = Option(
        dns_name,
        env="ZK_HOSTNAME",
        default="",
        help="this pod's hostname, short or fully qualified (default: the system's)",
    )
    domain = Option(
        dns_domain,
        env="ZK_DOMAIN",
        default="",
        help="the headless service's domain (default: from the FQDN, as hostname -d)",
    )
    myid_offset = Option(int_in(0, 255), env="ZK_MYID_OFFSET", default="1", help="myid = ordinal + this")
    four_letter_words = Option(
        word_list,
        env="ZK_4LW_WHITELIST",
        default="",
        flag="4lw-whitelist",
        help="four-letter words to allow besides ruok, srvr and mntr (comma-separated, or *)",
    )
    admin_server = Option(
        on_off, env="ZK_ADMIN_SERVER", default="off", help="run ZooKeeper's HTTP admin server: on or off"
    )
    admin_port = ADMIN_PORT
    admin_address = Option(
        bind_address, env="ZK_ADMIN_ADDRESS", default="127.0.0.1",
        help="address the admin server listens on (admin.serverAddress): 127.0.0.1, the pod's own "
             "probes and sidecars only, or 0.0.0.0 for every address",
    )  # fmt: skip
    metrics_port = Option(
        optional_port, env="ZK_METRICS_PORT", default="",
        help="port of ZooKeeper's own Prometheus endpoint, /metrics on all addresses (its Prometheus "
             "metrics provider: 3.6+ with the provider's jars); empty: none",
    )  # fmt: skip
    extra = Option(
        cfg_pairs,
        env="ZK_CFG_EXTRA",
        default="",
        flag="set",
        repeatable=True,
        metavar="KEY=VALUE",
        help="extra zoo.cfg entry key=value (repeatable; the variable takes ;-separated entries)",
    )
    zookeeper_home = Option(
        optional_abs_path,
        env=("ZK_HOME", "ZOOKEEPER_HOME"),
        default="",
        help="ZooKeeper installation (default: PATH, /opt/zookeeper, /usr/share/zookeeper)",
    )
    log_backend = Option(
        choice(LOG_BACKENDS),
        env="ZK_LOG_BACKEND",
        default="auto",
        help="log configuration to write: auto (from the installation), log4j or logback",
    )
    log_template = Option(
        optional_abs_path, env="ZK_LOG_TEMPLATE", default="",
        help="a jinja2 template of your own for ZooKeeper's log configuration (e.g. JSON lines), rendered "
             "with the same variables as zkboot's (docs/settings.md); empty: zkboot's",
    )  # fmt: skip
    log_format = Option(choice(LOG_FORMATS), env="ZK_LOG_FORMAT", default="text",
                        help="format of zkboot's own progress and error lines: text or json")  # fmt: skip
    membership = Option(choice(MEMBERSHIPS), env="ZK_MEMBERSHIP", default="static",
                        help="static (the server list is --servers, as the old scripts had it) or dynamic "
                             "(ZooKeeper 3.5.3+: new pods join by reconfiguration; see zkboot shrink)")  # fmt: skip
    super_password_file = Option(optional_abs_path, env="ZK_SUPER_PASSWORD_FILE", default="",
                                 help="file holding the password of ZooKeeper's super user (a mounted Secret); "
                                      "needed by dynamic membership")  # fmt: skip
    digest_algorithm = Option(
        digest_choice, env="ZK_DIGEST_ALGORITHM", default="auto",
        help="hash of ZooKeeper's digest scheme (its super user's digest, digest ACLs): auto (SHA-256 on "
             "ZooKeeper 3.7+, SHA1 before), SHA-256, SHA3-256 or SHA1 (ZooKeeper's own default)",
    )  # fmt: skip
    secure_client_port = Option(
        optional_port, env="ZK_SECURE_CLIENT_PORT", default="",
        help="client port served over TLS (Netty), with --tls-dir's files; empty: none",
    )  # fmt: skip
    tls_dir = Option(
        optional_abs_path, env="ZK_TLS_DIR", default="",
        help="a mounted kubernetes.io/tls Secret with its CA: tls.crt, tls.key, ca.crt",
    )  # fmt: skip
    tls_client_auth = Option(
        choice(CLIENT_AUTH), env="ZK_TLS_CLIENT_AUTH", default="need",
        help="client certificates on the secure port: need (signed by ca.crt), want or none",
    )  # fmt: skip
    plain_client_port = Option(
        choice(PLAIN_BINDS), env="ZK_PLAIN_CLIENT_PORT", default="auto",
        help="where the plain client port listens: all addresses, loopback (the pod's own probes and "
             "sidecars), or auto: loopback with a secure client port, else all",
    )  # fmt: skip
    quorum_tls = Option(
        on_off, env="ZK_QUORUM_TLS", default="off",
        help="TLS between members (sslQuorum), with --quorum-tls-dir's files: on or off",
    )  # fmt: skip
    quorum_tls_dir = Option(
        optional_abs_path, env="ZK_QUORUM_TLS_DIR", default="",
        help="the quorum's TLS Secret (tls.crt, tls.key, ca.crt); default: --tls-dir",
    )  # fmt: skip
    port_unification = Option(
        on_off, env="ZK_PORT_UNIFICATION", default="off",
        help="quorum ports take TLS and plain peers both (portUnification): on only while an ensemble "
             "is rolled to or from quorum TLS",
    )  # fmt: skip

    tls_reload_interval = Option(
        int_in(0, 86400), env="ZK_TLS_RELOAD_INTERVAL", default="60",
        help="seconds between checks of the TLS Secrets' files: a renewed certificate that passes the start's "
             "checks is written into the key store, which ZooKeeper reloads without a restart; 0: off",
    )  # fmt: skip

    quorum_sasl_dir = Option(
        optional_abs_path, env="ZK_QUORUM_SASL_DIR", default="",
        help="a mounted Secret with the quorum's SASL account (username, password): DIGEST-MD5 between members",
    )  # fmt: skip
    quorum_sasl_require = Option(
        on_off, env="ZK_QUORUM_SASL_REQUIRE", default="on",
        help="refuse members without SASL: off only while an ensemble is rolled to quorum SASL",
    )  # fmt: skip
    client_sasl_dir = Option(
        optional_abs_path, env="ZK_CLIENT_SASL_DIR", default="",
        help="a mounted Secret with the clients' SASL account (username, password): sessions without it are refused",
    )  # fmt: skip
    fips_mode = Option(
        choice(FIPS_MODES), env="ZK_FIPS_MODE", default="auto",
        help="ZooKeeper 3.9+'s FIPS mode (zookeeper.fips-mode; on 3.9.4+ it refuses quorum SASL "
             "DIGEST-MD5): auto (ZooKeeper's default: on), on or off",
    )  # fmt: skip

    @property
    def plain_loopback(self) -> bool:
        """The plain client port listens on 127.0.0.1 only."""
        if self.plain_client_port == "auto":
            return self.secure_client_port is not None
        return self.plain_client_port == "loopback"

    @property
    def quorum_tls_files(self) -> str | None:
        """The quorum's TLS dir: its own, else the clients'; None when no quorum TLS is asked for."""
        if not (self.quorum_tls or self.port_unification):
            return None
        return self.quorum_tls_dir or self.tls_dir
