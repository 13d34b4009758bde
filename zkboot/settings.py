"""Settings: one declared schema, resolved as flag > environment > default, then validated.

Each setting has a ``zkboot`` flag in kebab-case, the old ``start-zookeeper`` spelling
(``--data_dir``) where one existed, and one or more environment variables (the k8szk ``ZK_*``
spelling first).  Values arrive as strings from either source and go through the same parser,
so a bad value gets the same one-line error whichever way it came in.

Standard library only: the probe commands read their port from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zkboot.errors import UsageError
from zkboot.start.cfgkeys import reject_managed

LOG_LEVELS = ("FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE")
LOG_FORMATS = ("text", "json")
LOG_BACKENDS = ("auto", "log4j", "logback")

# Four-letter words zkboot's own probes and metrics need; the user's list is merged with these.
REQUIRED_4LW = ("ruok", "srvr", "mntr")
KNOWN_4LW = (
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "isro", "mntr", "ruok",
    "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
)  # fmt: skip

HEAP_PATTERN = re.compile(r"^([1-9][0-9]*)([kKmMgGtT]?)$")
HEAP_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
HEAP_MIN_BYTES = 16 << 20
JAVA_INT_MAX = 2**31 - 1  # ZooKeeper reads these numbers into Java ints
CFG_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Raw:
    """A value as given, with where it came from (for error messages)."""

    text: str
    source: str  # "--client_port", "ZK_CLIENT_PORT" or "default"


def _fail(raw: Raw, expected: str) -> UsageError:
    return UsageError(f"{raw.source}={raw.text!r}: expected {expected}")


def _int_in(low: int, high: int | None) -> Callable[[Raw], int]:
    def parse(raw: Raw) -> int:
        expected = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
        text = raw.text.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise _fail(raw, expected)
        value = int(text)
        if value < low or (high is not None and value > high):
            raise _fail(raw, expected)
        return value

    return parse


def _port(raw: Raw) -> int:
    return _int_in(1, 65535)(raw)


def _choice(options: Sequence[str], *, upper: bool = False) -> Callable[[Raw], str]:
    def parse(raw: Raw) -> str:
        text = raw.text.strip()
        text = text.upper() if upper else text.lower()
        if text not in options:
            raise _fail(raw, "one of " + ", ".join(options))
        return text

    return parse


def _bool(raw: Raw) -> bool:
    text = raw.text.strip().lower()
    if text in ("on", "true", "yes", "1", "enabled"):
        return True
    if text in ("off", "false", "no", "0", "disabled"):
        return False
    raise _fail(raw, "on or off")


def _abs_path(raw: Raw) -> str:
    text = raw.text.strip()
    # ZooKeeper's start scripts split $JVMFLAGS and dataDir on white space: refuse it here.
    if not text.startswith("/") or re.search(r"[\s\x00]", text):
        raise _fail(raw, "an absolute path without white space")
    # Normalise trailing slashes so "conf/" and "conf" name the same file paths.
    return text.rstrip("/") or "/"


def _optional_abs_path(raw: Raw) -> str | None:
    return _abs_path(raw) if raw.text.strip() else None


def _heap(raw: Raw) -> str:
    text = raw.text.strip()
    if text.lower() == "auto":
        return "auto"
    match = HEAP_PATTERN.match(text)
    if not match or heap_bytes(text) < HEAP_MIN_BYTES:
        raise _fail(raw, "a JVM heap size of at least 16M such as 512M, 2G or 1536m, or auto")
    return text


def heap_bytes(heap: str) -> int:
    """Bytes in a JVM size such as ``512M`` (validated by the heap setting's parser)."""
    match = HEAP_PATTERN.match(heap)
    if not match:
        raise ValueError(heap)
    return int(match.group(1)) * HEAP_UNITS[match.group(2).lower()]


def _hostname(raw: Raw) -> str | None:
    text = raw.text.strip().rstrip(".").lower()
    if not text:
        return None
    if not _is_dns_name(text):
        raise _fail(raw, "a DNS name such as zk-0 or zk-0.zk-hs.default.svc.cluster.local")
    return text


def _domain(raw: Raw) -> str | None:
    text = raw.text.strip().strip(".").lower()
    if not text:
        return None
    if not _is_dns_name(text):
        raise _fail(raw, "a DNS domain such as zk-hs.default.svc.cluster.local")
    return text


def _is_dns_name(text: str) -> bool:
    labels = text.split(".")
    return len(text) <= 253 and all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", label) for label in labels)


def _words(raw: Raw) -> tuple[str, ...]:
    items = [w.strip().lower() for w in re.split(r"[,\s]+", raw.text) if w.strip()]
    for word in items:
        if word != "*" and word not in KNOWN_4LW:
            raise _fail(raw, "a comma-separated list of four-letter words (" + ", ".join(KNOWN_4LW) + ") or *")
    return tuple(dict.fromkeys(items))


def _cfg_pairs(raw: Raw) -> tuple[tuple[str, str], ...]:
    """``key=value`` items, separated by newlines or ``;`` (values may hold commas)."""
    pairs: list[tuple[str, str]] = []
    for item in re.split(r"[;\n]", raw.text):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not CFG_KEY_PATTERN.match(key) or not value:
            raise UsageError(
                f"{raw.source}: {item!r} is not a zoo.cfg entry; expected key=value "
                "with a key such as snapCount and a non-empty value"
            )
        pairs.append((key, value))
    return tuple(pairs)


@dataclass(frozen=True)
class Spec:
    """One setting: its names everywhere, its default and its parser."""

    name: str
    flag: str  # zkboot's spelling, without the leading dashes
    env: tuple[str, ...]
    default: str | None  # raw text; None means "derived" (see _derived_default)
    parse: Callable[[Raw], Any]
    help: str
    legacy: bool = False  # start-zookeeper had it, spelled --<name> (underscores)
    repeatable: bool = False

    @property
    def legacy_flag(self) -> str | None:
        return self.name if self.legacy else None

    @property
    def flags(self) -> tuple[str, ...]:
        names = ["--" + self.flag]
        if self.legacy_flag and self.legacy_flag != self.flag:
            names.append("--" + self.legacy_flag)
        return tuple(names)


SCHEMA: tuple[Spec, ...] = (
    Spec("servers", "servers", ("ZK_REPLICAS",), "1", _int_in(1, 255),
         "number of servers in the ensemble", legacy=True),
    Spec("data_dir", "data-dir", ("ZK_DATA_DIR",), "/var/lib/zookeeper/data", _abs_path,
         "snapshot directory, holds myid", legacy=True),
    Spec("data_log_dir", "data-log-dir", ("ZK_DATA_LOG_DIR",), "/var/lib/zookeeper/log", _abs_path,
         "transaction log directory", legacy=True),
    Spec("log_dir", "log-dir", ("ZK_LOG_DIR",), "/var/log/zookeeper", _abs_path,
         "ZooKeeper's log directory (zookeeper.log.dir)", legacy=True),
    Spec("conf_dir", "conf-dir", ("ZK_CONF_DIR",), "/opt/zookeeper/conf", _abs_path,
         "where zoo.cfg, java.env and the log configuration are written", legacy=True),
    Spec("client_port", "client-port", ("ZK_CLIENT_PORT",), "2181", _port,
         "client port", legacy=True),
    Spec("server_port", "server-port", ("ZK_SERVER_PORT",), "2888", _port,
         "quorum (follower) port", legacy=True),
    Spec("election_port", "election-port", ("ZK_ELECTION_PORT",), "3888", _port,
         "leader election port", legacy=True),
    Spec("tick_time", "tick-time", ("ZK_TICK_TIME",), "2000", _int_in(1, JAVA_INT_MAX),
         "tick length in milliseconds", legacy=True),
    Spec("init_limit", "init-limit", ("ZK_INIT_LIMIT",), "10", _int_in(1, JAVA_INT_MAX),
         "ticks a follower may take to connect and sync", legacy=True),
    Spec("sync_limit", "sync-limit", ("ZK_SYNC_LIMIT",), "5", _int_in(1, JAVA_INT_MAX),
         "ticks a follower may lag", legacy=True),
    Spec("heap", "heap", ("ZK_HEAP_SIZE",), "2G", _heap,
         "JVM heap (-Xmx/-Xms), e.g. 512M, or auto (half the container memory limit)", legacy=True),
    Spec("max_client_cnxns", "max-client-cnxns", ("ZK_MAX_CLIENT_CNXNS",), "60", _int_in(0, JAVA_INT_MAX),
         "connections per client IP (0 = unlimited)", legacy=True),
    Spec("snap_retain_count", "snap-retain-count", ("ZK_SNAP_RETAIN_COUNT",), "3", _int_in(3, JAVA_INT_MAX),
         "snapshots kept by autopurge", legacy=True),
    Spec("purge_interval", "purge-interval", ("ZK_PURGE_INTERVAL",), "0", _int_in(0, JAVA_INT_MAX),
         "hours between autopurge runs (0 = never)", legacy=True),
    Spec("min_session_timeout", "min-session-timeout", ("ZK_MIN_SESSION_TIMEOUT",), None,
         _int_in(1, JAVA_INT_MAX), "minimum session timeout in ms (default 2 x tick time)",
         legacy=True),
    Spec("max_session_timeout", "max-session-timeout", ("ZK_MAX_SESSION_TIMEOUT",), None,
         _int_in(1, JAVA_INT_MAX), "maximum session timeout in ms (default 20 x tick time)",
         legacy=True),
    Spec("log_level", "log-level", ("ZK_LOG_LEVEL",), "INFO", _choice(LOG_LEVELS, upper=True),
         "ZooKeeper's log level: " + ", ".join(LOG_LEVELS), legacy=True),
    # Settings the old scripts did not have.
    Spec("hostname", "hostname", ("ZK_HOSTNAME",), "", _hostname,
         "this pod's hostname, short or fully qualified (default: the system's)"),
    Spec("domain", "domain", ("ZK_DOMAIN",), "", _domain,
         "the headless service's domain (default: from the FQDN, as hostname -d)"),
    Spec("myid_offset", "myid-offset", ("ZK_MYID_OFFSET",), "1", _int_in(0, 255),
         "myid = ordinal + this"),
    Spec("four_letter_words", "4lw-whitelist", ("ZK_4LW_WHITELIST",), "", _words,
         "four-letter words to allow besides ruok, srvr and mntr (comma-separated, or *)"),
    Spec("admin_server", "admin-server", ("ZK_ADMIN_SERVER",), "off", _bool,
         "run ZooKeeper's HTTP admin server: on or off"),
    Spec("admin_port", "admin-port", ("ZK_ADMIN_PORT",), "8080", _port,
         "the admin server's port"),
    Spec("extra", "set", ("ZK_CFG_EXTRA",), "", _cfg_pairs,
         "extra zoo.cfg entry key=value (repeatable; the variable takes ;-separated entries)",
         repeatable=True),
    Spec("zookeeper_home", "zookeeper-home", ("ZK_HOME", "ZOOKEEPER_HOME"), "", _optional_abs_path,
         "ZooKeeper installation (default: PATH, /opt/zookeeper, /usr/share/zookeeper)"),
    Spec("log_backend", "log-backend", ("ZK_LOG_BACKEND",), "auto", _choice(LOG_BACKENDS),
         "log configuration to write: auto (from the installation), log4j or logback"),
    Spec("log_format", "log-format", ("ZK_LOG_FORMAT",), "text", _choice(LOG_FORMATS),
         "format of zkboot's own progress lines: text or json"),
)  # fmt: skip

SPECS = {spec.name: spec for spec in SCHEMA}
LEGACY_SPECS = tuple(spec for spec in SCHEMA if spec.legacy_flag)


@dataclass(frozen=True)
class Settings:
    """Every setting, parsed and validated."""

    servers: int
    data_dir: str
    data_log_dir: str
    log_dir: str
    conf_dir: str
    client_port: int
    server_port: int
    election_port: int
    tick_time: int
    init_limit: int
    sync_limit: int
    heap: str
    max_client_cnxns: int
    snap_retain_count: int
    purge_interval: int
    min_session_timeout: int
    max_session_timeout: int
    log_level: str
    hostname: str | None
    domain: str | None
    myid_offset: int
    four_letter_words: tuple[str, ...]
    admin_server: bool
    admin_port: int
    extra: tuple[tuple[str, str], ...]
    zookeeper_home: str | None
    log_backend: str
    log_format: str
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    legacy_spelling: bool = field(default=False, compare=False, repr=False)

    @property
    def whitelist(self) -> tuple[str, ...]:
        """The 4lw whitelist to write: ours first, then the user's additions."""
        if "*" in self.four_letter_words:
            return ("*",)
        return tuple(dict.fromkeys(REQUIRED_4LW + self.four_letter_words))


FlagValues = Mapping[str, str | Sequence[str] | None]


def resolve(flags: FlagValues, environ: Mapping[str, str], *, legacy_spelling: bool = False) -> Settings:
    """Resolve every setting (flag > environment > default) and validate the whole.

    ``flags`` maps a setting name to the flag's text (or a list of texts for a repeatable
    setting), with None or absence meaning "not given".  An environment variable that is empty
    counts as unset, as the old scripts' ``${VAR:-default}`` did.  Messages name flags in the
    old underscore spelling when ``legacy_spelling`` (the old commands), else in kebab-case.
    """
    unknown = set(flags) - set(SPECS)
    if unknown:
        raise UsageError(f"unknown setting {sorted(unknown)[0]!r}")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in SCHEMA:
        raws = _raw_values(spec, flags.get(spec.name), environ, legacy_spelling)
        if spec.repeatable:
            values[spec.name] = tuple(item for raw in raws for item in spec.parse(raw))
        elif raws:
            values[spec.name] = spec.parse(raws[0])
        else:
            values[spec.name] = None
        sources[spec.name] = raws[0].source if raws else "default"
    values["min_session_timeout"] = values["min_session_timeout"] or 2 * values["tick_time"]
    values["max_session_timeout"] = values["max_session_timeout"] or 20 * values["tick_time"]
    settings = Settings(**values, sources=sources, legacy_spelling=legacy_spelling)
    _validate(settings)
    return settings


def _raw_values(
    spec: Spec, flag_value: str | Sequence[str] | None, environ: Mapping[str, str], legacy_spelling: bool
) -> list[Raw]:
    flag_name = "--" + ((spec.legacy_flag or spec.flag) if legacy_spelling else spec.flag)
    if isinstance(flag_value, str):
        return [Raw(flag_value, flag_name)]
    if flag_value:  # a non-empty list from a repeatable flag
        return [Raw(text, flag_name) for text in flag_value]
    for name in spec.env:
        if environ.get(name, "").strip():
            return [Raw(environ[name], name)]
    if spec.default is None:
        return []
    return [Raw(spec.default, "default")]


def label(settings: Settings, name: str) -> str:
    """How to name a setting in a message: the source it came from, else its flag and variable."""
    source = settings.sources.get(name, "default")
    if source != "default":
        return source
    spec = SPECS[name]
    flag = spec.legacy_flag if settings.legacy_spelling and spec.legacy_flag else spec.flag
    return f"--{flag} / {spec.env[0]}"


def _validate(settings: Settings) -> None:
    ports = [("client_port", settings.client_port)]
    if settings.servers > 1:
        ports += [("server_port", settings.server_port), ("election_port", settings.election_port)]
    if settings.admin_server:
        ports.append(("admin_port", settings.admin_port))
    seen: dict[int, str] = {}
    for name, port in ports:
        if port in seen:
            raise UsageError(
                f"{label(settings, name)}={port}: the same port as {label(settings, seen[port])}; "
                "expected distinct ports"
            )
        seen[port] = name
    if settings.min_session_timeout > settings.max_session_timeout:
        raise UsageError(
            f"{label(settings, 'min_session_timeout')}={settings.min_session_timeout} is greater than "
            f"{label(settings, 'max_session_timeout')}={settings.max_session_timeout}; expected min <= max"
        )
    if settings.max_session_timeout > JAVA_INT_MAX:
        raise UsageError(
            f"{label(settings, 'max_session_timeout')}={settings.max_session_timeout}: "
            f"expected at most {JAVA_INT_MAX} (lower the tick time or set it explicitly)"
        )
    reject_managed(settings.extra, label(settings, "extra"))


def describe(specs: Iterable[Spec]) -> str:
    """The settings as a usage table (for -h of the old commands)."""
    lines = []
    for spec in specs:
        default = spec.default if spec.default is not None else "derived"
        flag = spec.legacy_flag or spec.flag
        lines.append(f"  --{flag}=VALUE  ({spec.env[0]}, default {default or 'none'})  {spec.help}")
    return "\n".join(lines)
