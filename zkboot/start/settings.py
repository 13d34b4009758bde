"""The start settings: their declarations, and resolving them as a whole.

``Settings`` declares every option of ``zkboot start/render/status``, ``start-zookeeper`` and
``zkGenConfig.sh`` (with ``zkboot.options``' machinery, and its client and admin ports, which the
probes share).  ``resolve`` adds what only makes sense for the whole: derived defaults (the
session timeouts) and the checks that relate settings to each other (distinct ports, min <= max,
``--set`` keys zkboot writes itself).  Every problem found is reported in one run, one line each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zkboot.errors import UsageError
from zkboot.options import ADMIN_PORT, CLIENT_PORT, Group, Invalid, Option, Raw, choice, fail, int_in, port
from zkboot.start.cfgkeys import managed_key_problems

LOG_LEVELS = ("FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE")
LOG_FORMATS = ("text", "json")
LOG_BACKENDS = ("auto", "log4j", "logback")
MEMBERSHIPS = ("static", "dynamic")
CLIENT_AUTH = ("need", "want", "none")
PLAIN_BINDS = ("auto", "all", "loopback")
FIPS_MODES = ("auto", "on", "off")
KNOWN_4LW = (
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "isro", "mntr", "ruok",
    "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
)  # fmt: skip
HEAP_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
HEAP_MIN_BYTES = 16 << 20
JAVA_INT_MAX = 2**31 - 1  # ZooKeeper reads these numbers into Java ints
DNS_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
CFG_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def on_off(raw: Raw) -> bool:
    text = raw.text.strip().lower()
    if text in ("on", "true", "yes", "1", "enabled"):
        return True
    if text in ("off", "false", "no", "0", "disabled"):
        return False
    raise fail(raw, "on or off")


def abs_path(raw: Raw) -> str:
    text = raw.text.strip()
    # ZooKeeper's start scripts split $JVMFLAGS and dataDir on white space: refuse it here.
    if not text.startswith("/") or any(ch.isspace() or ch == "\x00" for ch in text):
        raise fail(raw, "an absolute path without white space")
    # Normalise trailing slashes so "conf/" and "conf" name the same file paths.
    return text.rstrip("/") or "/"


def optional_abs_path(raw: Raw) -> str | None:
    return abs_path(raw) if raw.text.strip() else None


def optional_port(raw: Raw) -> int | None:
    return port(raw) if raw.text.strip() else None


def heap_bytes(heap: str) -> int | None:
    """Bytes in a JVM size such as ``512M`` or ``2g``; None when it is not one."""
    text = heap.strip()
    unit = text[-1:].lower() if text[-1:].isalpha() else ""
    digits = text[: len(text) - len(unit)]
    if unit not in HEAP_UNITS or not (digits.isascii() and digits.isdigit()) or digits.startswith("0"):
        return None
    return int(digits) * HEAP_UNITS[unit]


def heap_size(raw: Raw) -> str:
    text = raw.text.strip()
    if text.lower() == "auto":
        return "auto"
    size = heap_bytes(text)
    if size is None or size < HEAP_MIN_BYTES:
        raise fail(raw, "a JVM heap size of at least 16M such as 512M, 2G or 1536m, or auto")
    return text


def is_dns_name(text: str) -> bool:
    return len(text) <= 253 and all(
        0 < len(label) <= 63 and set(label) <= DNS_LABEL_CHARS and label[0] != "-" and label[-1] != "-"
        for label in text.split(".")
    )


def dns_name(raw: Raw) -> str | None:
    text = raw.text.strip().rstrip(".").lower()
    if not text:
        return None
    if not is_dns_name(text):
        raise fail(raw, "a DNS name such as zk-0 or zk-0.zk-hs.default.svc.cluster.local")
    return text


def dns_domain(raw: Raw) -> str | None:
    text = raw.text.strip().strip(".").lower()
    if not text:
        return None
    if not is_dns_name(text):
        raise fail(raw, "a DNS domain such as zk-hs.default.svc.cluster.local")
    return text


def word_list(raw: Raw) -> tuple[str, ...]:
    items = [w.strip().lower() for w in raw.text.replace(",", " ").split()]
    for word in items:
        if word != "*" and word not in KNOWN_4LW:
            raise fail(raw, "a comma-separated list of four-letter words (" + ", ".join(KNOWN_4LW) + ") or *")
    return tuple(dict.fromkeys(items))


def cfg_pairs(raw: Raw) -> tuple[tuple[str, str], ...]:
    """``key=value`` items, separated by newlines or ``;`` (values may hold commas)."""
    pairs: list[tuple[str, str]] = []
    for item in raw.text.replace(";", "\n").splitlines():
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not set(key) <= CFG_KEY_CHARS or not key[0].isalnum() or not value:
            raise Invalid(
                f"{raw.source}: {item!r} is not a zoo.cfg entry; expected key=value "
                "with a key such as snapCount and a non-empty value"
            )
        pairs.append((key, value))
    return tuple(pairs)


class Settings(Group):
    """Everything a start is made from (``zkboot start/render/status``, ``start-zookeeper``, ``zkGenConfig.sh``).

    The old ``start-zookeeper`` options come first, in its order; the session timeouts default to
    2 and 20 ticks (``zkboot.start.settings`` derives them).
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
        abs_path, env="ZK_DATA_LOG_DIR", default="/var/lib/zookeeper/log", legacy=True, help="transaction log directory"
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
    log_format = Option(choice(LOG_FORMATS), env="ZK_LOG_FORMAT", default="text",
                        help="format of zkboot's own progress and error lines: text or json")  # fmt: skip
    membership = Option(choice(MEMBERSHIPS), env="ZK_MEMBERSHIP", default="static",
                        help="static (the server list is --servers, as the old scripts had it) or dynamic "
                             "(ZooKeeper 3.5.3+: new pods join by reconfiguration; see zkboot shrink)")  # fmt: skip
    super_password_file = Option(optional_abs_path, env="ZK_SUPER_PASSWORD_FILE", default="",
                                 help="file holding the password of ZooKeeper's super user (a mounted Secret); "
                                      "needed by dynamic membership")  # fmt: skip
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
        help="ZooKeeper 3.9+'s FIPS mode (zookeeper.fips-mode), which disables DIGEST-MD5: auto "
             "(ZooKeeper's default), on or off",
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


FlagValues = Mapping[str, str | Sequence[str] | None]


def resolve(flags: FlagValues, environ: Mapping[str, str], *, legacy_spelling: bool = False) -> Settings:
    """Every setting, parsed and validated; UsageError listing every problem otherwise.

    ``flags`` maps a setting name to the flag's text (a list of texts for a repeatable setting),
    None or absence meaning "not given".  Messages name flags in the old underscore spelling when
    ``legacy_spelling`` (the old commands), else in kebab-case.
    """
    values, sources, problems = Settings.parse_all(flags, environ, legacy_spelling=legacy_spelling)
    tick = values["tick_time"]
    if tick is not None:
        values["min_session_timeout"] = values["min_session_timeout"] or 2 * tick
        values["max_session_timeout"] = values["max_session_timeout"] or 20 * tick
    settings = Settings(values, sources, legacy_spelling)
    if not problems:  # relations between values only once every value parsed
        problems += _relations(settings)
    if problems:
        raise UsageError(*problems)
    return settings


def _relations(settings: Settings) -> list[str]:
    problems = []
    ports = [("client_port", settings.client_port)]
    if settings.servers > 1:
        ports += [("server_port", settings.server_port), ("election_port", settings.election_port)]
    if settings.admin_server:
        ports.append(("admin_port", settings.admin_port))
    if settings.secure_client_port is not None:
        ports.append(("secure_client_port", settings.secure_client_port))
    seen: dict[int, str] = {}
    for name, number in ports:
        if number in seen:
            other = settings.label(seen[number])
            problems.append(f"{settings.label(name)}={number}: the same port as {other}; expected distinct ports")
        seen.setdefault(number, name)
    if settings.min_session_timeout > settings.max_session_timeout:
        problems.append(
            f"{settings.label('min_session_timeout')}={settings.min_session_timeout} is greater than "
            f"{settings.label('max_session_timeout')}={settings.max_session_timeout}; expected min <= max"
        )
    if settings.max_session_timeout > JAVA_INT_MAX:
        problems.append(
            f"{settings.label('max_session_timeout')}={settings.max_session_timeout}: "
            f"expected at most {JAVA_INT_MAX} (lower the tick time or set it explicitly)"
        )
    problems += managed_key_problems(settings.extra, settings.label("extra"), setting_label, security_in_use(settings))
    if settings.secure_client_port is not None and not settings.tls_dir:
        problems.append(
            f"{settings.label('secure_client_port')}={settings.secure_client_port} needs {settings.label('tls_dir')}: "
            "expected the dir of the server's tls.crt, tls.key and ca.crt"
        )
    if settings.quorum_tls_files is None and (settings.quorum_tls or settings.port_unification):
        which = "quorum_tls" if settings.quorum_tls else "port_unification"
        problems.append(
            f"{settings.label(which)}=on needs {settings.label('quorum_tls_dir')} or {settings.label('tls_dir')}: "
            "expected the dir of the member's tls.crt, tls.key and ca.crt"
        )
    if settings.plain_client_port == "loopback" and settings.secure_client_port is None and settings.servers > 1:
        problems.append(
            f"{settings.label('plain_client_port')}=loopback without {settings.label('secure_client_port')}: "
            "the members could not reach each other's client port; expected a secure client port too"
        )
    if settings.membership == "dynamic" and not settings.super_password_file:
        problems.append(
            f"{settings.label('membership')}=dynamic needs {settings.label('super_password_file')}: "
            "expected the file of the super user's password (reconfiguration is for the super user only)"
        )
    return problems


def security_in_use(settings: Settings) -> frozenset[str]:
    """The TLS and SASL settings in effect, whose zoo.cfg keys zkboot then writes itself."""
    used = set()
    if settings.secure_client_port is not None:
        used.add("secure_client_port")
    if settings.plain_loopback:
        used.add("plain_client_port")
    if settings.quorum_tls_files is not None:
        used.add("quorum_tls")
    if settings.quorum_sasl_dir:
        used.add("quorum_sasl")
    if settings.client_sasl_dir:
        used.add("client_sasl")
    return frozenset(used)


def setting_label(name: str) -> str:
    """``--tick-time / ZK_TICK_TIME``: how a message tells the user to set a setting."""
    label: str = Settings.option(name).label()
    return label
